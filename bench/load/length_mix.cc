#include "bench/load/length_mix.h"

#include <algorithm>
#include <cmath>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace tessera::load {

absl::StatusOr<LengthMix> LengthMix::Parse(absl::string_view text) {
  std::vector<WeightedLength> entries;
  for (absl::string_view item : absl::StrSplit(text, ',')) {
    const std::vector<absl::string_view> parts = absl::StrSplit(item, ':');
    WeightedLength entry{.weight = 1};
    if (parts.size() > 2 || !absl::SimpleAtoi(parts[0], &entry.tokens) || entry.tokens < 1 ||
        (parts.size() == 2 && (!absl::SimpleAtod(parts[1], &entry.weight) ||
                               !std::isfinite(entry.weight) || entry.weight <= 0))) {
      return absl::InvalidArgumentError(
          absl::StrCat("'", item, "' is not LENGTH or LENGTH:WEIGHT (a positive integer length, ",
                       "a positive weight)"));
    }
    entries.push_back(entry);
  }
  return LengthMix(std::move(entries));
}

LengthMix::LengthMix(std::vector<WeightedLength> entries) : entries_(std::move(entries)) {
  double total = 0;
  for (const WeightedLength& entry : entries_) total += entry.weight;
  double sum = 0;
  for (const WeightedLength& entry : entries_) {
    sum += entry.weight;
    cumulative_.push_back(sum / total);
  }
  cumulative_.back() = 1;  // no rounding gap at the top
}

int32_t LengthMix::Pick(double u) const {
  const size_t i =
      std::upper_bound(cumulative_.begin(), cumulative_.end(), u) - cumulative_.begin();
  return entries_[std::min(i, entries_.size() - 1)].tokens;
}

int32_t LengthMix::min() const {
  int32_t least = entries_.front().tokens;
  for (const WeightedLength& entry : entries_) least = std::min(least, entry.tokens);
  return least;
}

int32_t LengthMix::max() const {
  int32_t most = entries_.front().tokens;
  for (const WeightedLength& entry : entries_) most = std::max(most, entry.tokens);
  return most;
}

double LengthMix::mean() const {
  double total = 0;
  double weighted = 0;
  for (const WeightedLength& entry : entries_) {
    total += entry.weight;
    weighted += entry.weight * entry.tokens;
  }
  return weighted / total;
}

std::string LengthMix::ToString() const {
  if (entries_.size() == 1) return absl::StrCat(entries_[0].tokens);
  return absl::StrJoin(entries_, ",", [](std::string* out, const WeightedLength& entry) {
    absl::StrAppend(out, entry.tokens, ":", entry.weight);
  });
}

}  // namespace tessera::load
