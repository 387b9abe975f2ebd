// How models are shown: one model in full, or many as a table.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>

#include "google/protobuf/repeated_ptr_field.h"
#include "tessera/inference/v1/inference.pb.h"

namespace tessera::cli {

// "512 B", "1.5 KiB", "3.2 GiB".
std::string HumanBytes(int64_t bytes);

// One "field: value" line per ModelInfo field.
void PrintModelInfo(const inference::v1::ModelInfo& model, std::ostream& out);

// A header line and one row per model; "no models loaded" when there are none.
void PrintModelTable(const google::protobuf::RepeatedPtrField<inference::v1::ModelInfo>& models,
                     std::ostream& out);

}  // namespace tessera::cli
