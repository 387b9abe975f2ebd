#include "core/format/safetensors_model.h"

#include <sys/stat.h>

#include <algorithm>

#include "absl/strings/str_format.h"
#include "core/format/json_file.h"
#include "core/format/model_file_error.h"
#include "core/util/error_reason.h"
#include "core/util/status_macros.h"

namespace tessera::safetensors {
namespace {

// A shard must be a file of the model's own directory: a name like "../x" or "/etc/x" in a
// downloaded index must not reach anything else.
bool IsPlainFileName(std::string_view name) {
  return !name.empty() && name != "." && name != ".." &&
         name.find_first_of(std::string_view("/\\\0", 3)) == std::string_view::npos;
}

bool Exists(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0;
}

}  // namespace

absl::StatusOr<std::unique_ptr<SafetensorsModel>> SafetensorsModel::Open(const std::string& dir) {
  struct stat st;
  if (stat(dir.c_str(), &st) != 0) return ModelFileNotFoundError(dir);
  if (!S_ISDIR(st.st_mode)) return InvalidModelFileError(dir, "is not a directory");

  std::unique_ptr<SafetensorsModel> model(new SafetensorsModel(dir));
  const std::string index_path = absl::StrFormat("%s/%s", dir, kIndexFileName);
  const std::string single_path = absl::StrFormat("%s/%s", dir, kSingleFileName);
  // The order Hugging Face's own loader looks in.
  if (Exists(single_path)) {
    TESSERA_RETURN_IF_ERROR(model->OpenSingleFile(single_path));
  } else if (Exists(index_path)) {
    TESSERA_RETURN_IF_ERROR(model->OpenShards(index_path));
  } else {
    return WithReason(absl::NotFoundError(absl::StrFormat("%s: has neither %s nor %s", dir,
                                                          kSingleFileName, kIndexFileName)),
                      reason::kModelFileNotFound);
  }
  return model;
}

absl::Status SafetensorsModel::OpenSingleFile(const std::string& path) {
  TESSERA_ASSIGN_OR_RETURN(std::unique_ptr<SafetensorsFile> file, SafetensorsFile::Open(path));
  for (const TensorInfo& info : file->tensors()) Add(*file, info);
  files_.push_back(std::move(file));
  return absl::OkStatus();
}

absl::Status SafetensorsModel::OpenShards(const std::string& index_path) {
  TESSERA_ASSIGN_OR_RETURN(const nlohmann::json index, ReadJsonFile(index_path));
  const auto error = [&](std::string_view what) { return InvalidModelFileError(index_path, what); };
  if (!index.is_object()) {
    return error(absl::StrFormat("is %s, expected an object", JsonTypeName(index)));
  }
  if (index.contains("metadata") && !index["metadata"].is_object()) {
    return error(absl::StrFormat("has \"metadata\" that is %s, expected an object",
                                 JsonTypeName(index["metadata"])));
  }
  if (!index.contains("weight_map")) return error("has no \"weight_map\"");
  const nlohmann::json& weight_map = index["weight_map"];
  if (!weight_map.is_object()) {
    return error(absl::StrFormat("has \"weight_map\" that is %s, expected an object",
                                 JsonTypeName(weight_map)));
  }

  absl::flat_hash_map<std::string, const SafetensorsFile*> files_by_name;
  for (const auto& [tensor, shard_name] : weight_map.items()) {
    if (!shard_name.is_string()) {
      return error(absl::StrFormat("maps tensor '%s' to %s, expected a shard file name", tensor,
                                   JsonTypeName(shard_name)));
    }
    const std::string& shard = shard_name.get_ref<const std::string&>();
    if (!IsPlainFileName(shard)) {
      return error(absl::StrFormat("maps tensor '%s' to \"%s\", which is not a plain file name "
                                   "inside the directory", tensor, shard));
    }
    auto [it, is_new] = files_by_name.try_emplace(shard, nullptr);
    if (is_new) {
      absl::StatusOr<std::unique_ptr<SafetensorsFile>> file =
          SafetensorsFile::Open(absl::StrFormat("%s/%s", dir_, shard));
      if (absl::IsNotFound(file.status())) {
        return error(absl::StrFormat("maps tensor '%s' to shard \"%s\", which does not exist",
                                     tensor, shard));
      }
      TESSERA_RETURN_IF_ERROR(file.status());
      it->second = file->get();
      files_.push_back(*std::move(file));
    }
    const TensorInfo* info = it->second->FindTensor(tensor);
    if (info == nullptr) {
      return error(absl::StrFormat("maps tensor '%s' to shard \"%s\", which has no such tensor",
                                   tensor, shard));
    }
    Add(*it->second, *info);
  }
  return absl::OkStatus();
}

void SafetensorsModel::Add(const SafetensorsFile& file, const TensorInfo& info) {
  tensors_.emplace(info.name, Location{&file, &info});
  total_bytes_ += info.bytes;
}

std::vector<std::string_view> SafetensorsModel::TensorNames() const {
  std::vector<std::string_view> names;
  names.reserve(tensors_.size());
  for (const auto& [name, location] : tensors_) names.push_back(name);
  std::sort(names.begin(), names.end());
  return names;
}

const TensorInfo* SafetensorsModel::FindTensor(std::string_view name) const {
  const auto it = tensors_.find(name);
  return it == tensors_.end() ? nullptr : it->second.info;
}

absl::StatusOr<Tensor> SafetensorsModel::GetTensor(std::string_view name) const {
  const auto it = tensors_.find(name);
  if (it == tensors_.end()) {
    return InvalidModelFileError(dir_, absl::StrFormat("has no tensor '%s'", name));
  }
  return it->second.file->GetTensor(name);
}

}  // namespace tessera::safetensors
