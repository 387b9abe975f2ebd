#include "core/format/llama2c.h"

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>

#include "absl/strings/str_format.h"
#include "core/format/byte_cursor.h"
#include "core/format/model_file_error.h"
#include "core/util/status_macros.h"

namespace tessera::llama2c {
namespace {

constexpr uint64_t kHeaderFields = 7;

absl::StatusOr<std::string> ReadWholeFile(const std::string& path) {
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) {
    if (errno == ENOENT || errno == ENOTDIR) return ModelFileNotFoundError(path);
    return InvalidModelFileError(path,
                                 absl::StrFormat("cannot be opened: %s", std::strerror(errno)));
  }
  std::string bytes;
  char chunk[1 << 16];
  size_t n = 0;
  while ((n = std::fread(chunk, 1, sizeof(chunk), file)) > 0) bytes.append(chunk, n);
  const bool failed = std::ferror(file) != 0;
  std::fclose(file);
  if (failed) return InvalidModelFileError(path, "cannot be read");
  return bytes;
}

absl::StatusOr<Config> ConfigFromHeader(std::string_view path,
                                        const std::array<int32_t, kHeaderFields>& header) {
  const auto invalid = [&](std::string_view what) {
    return InvalidModelFileError(
        path, absl::StrFormat("header (dim %d, hidden_dim %d, n_layers %d, n_heads %d, "
                              "n_kv_heads %d, vocab_size %d, seq_len %d): %s",
                              header[0], header[1], header[2], header[3], header[4], header[5],
                              header[6], what));
  };
  Config config;
  config.dim = header[0];
  config.hidden_dim = header[1];
  config.n_layers = header[2];
  config.n_heads = header[3];
  config.n_kv_heads = header[4];
  config.seq_len = header[6];
  // A negative vocab_size is llama2.c's flag for a classifier stored apart from the embedding.
  if (header[5] == 0 || header[5] == std::numeric_limits<int32_t>::min()) {
    return invalid("vocab_size must be nonzero");
  }
  config.shared_classifier = header[5] > 0;
  config.vocab_size = config.shared_classifier ? header[5] : -header[5];
  for (int i : {0, 1, 2, 3, 4, 6}) {
    if (header[i] <= 0) return invalid("every size other than vocab_size must be positive");
  }
  if (config.dim % config.n_heads != 0) return invalid("dim is not a multiple of n_heads");
  if (config.n_heads % config.n_kv_heads != 0) {
    return invalid("n_heads is not a multiple of n_kv_heads");
  }
  // Rotary embeddings turn pairs of dimensions, and the RoPE tables store head_size / 2 columns.
  if (config.head_size() % 2 != 0) return invalid("the head size dim / n_heads is odd");
  return config;
}

// Every array of the version-0 export, in file order.
enum Part {
  kEmbedding, kRmsAtt, kWq, kWk, kWv, kWo, kRmsFfn, kW1, kW2, kW3, kRmsFinal, kFreqCisReal,
  kFreqCisImag, kClassifier, kPartCount,
};

// Element counts of each part. Each factor is below 2^31, so no product or sum can overflow
// 128 bits.
std::array<unsigned __int128, kPartCount> PartSizes(const Config& c) {
  using u128 = unsigned __int128;
  const u128 dim = c.dim, hidden = c.hidden_dim, layers = c.n_layers, vocab = c.vocab_size;
  const u128 kv_dim = c.kv_dim(), seq_len = c.seq_len, half_head = c.head_size() / 2;
  std::array<u128, kPartCount> sizes{};
  sizes[kEmbedding] = vocab * dim;
  sizes[kRmsAtt] = layers * dim;
  sizes[kWq] = layers * dim * dim;
  sizes[kWk] = layers * kv_dim * dim;
  sizes[kWv] = layers * kv_dim * dim;
  sizes[kWo] = layers * dim * dim;
  sizes[kRmsFfn] = layers * dim;
  sizes[kW1] = layers * hidden * dim;
  sizes[kW2] = layers * dim * hidden;
  sizes[kW3] = layers * hidden * dim;
  sizes[kRmsFinal] = dim;
  sizes[kFreqCisReal] = seq_len * half_head;
  sizes[kFreqCisImag] = seq_len * half_head;
  sizes[kClassifier] = c.shared_classifier ? 0 : vocab * dim;
  return sizes;
}

// A header of huge sizes can describe more bytes than 64 bits count.
std::string CountText(unsigned __int128 count) {
  if (count > std::numeric_limits<uint64_t>::max()) return "more than 2^64";
  return absl::StrFormat("%d", static_cast<uint64_t>(count));
}

}  // namespace

absl::StatusOr<std::unique_ptr<Checkpoint>> Checkpoint::Read(const std::string& path) {
  TESSERA_ASSIGN_OR_RETURN(const std::string bytes, ReadWholeFile(path));
  ByteCursor in(path, bytes.data(), bytes.size());
  std::array<int32_t, kHeaderFields> header;
  for (int32_t& field : header) {
    TESSERA_ASSIGN_OR_RETURN(field, in.Read<int32_t>("the 7-field header"));
  }
  TESSERA_ASSIGN_OR_RETURN(const Config config, ConfigFromHeader(path, header));

  const std::array<unsigned __int128, kPartCount> sizes = PartSizes(config);
  unsigned __int128 total = 0;
  for (const unsigned __int128 size : sizes) total += size;
  if (total * sizeof(float) != in.remaining()) {
    return in.Error(absl::StrFormat("the header describes %s bytes of fp32 weights but %d "
                                    "bytes follow it",
                                    CountText(total * sizeof(float)), in.remaining()));
  }

  std::unique_ptr<Checkpoint> checkpoint(new Checkpoint());
  checkpoint->config_ = config;
  checkpoint->floats_.resize(static_cast<size_t>(total));
  std::memcpy(checkpoint->floats_.data(), bytes.data() + in.offset(), in.remaining());

  std::array<std::span<const float>, kPartCount> parts;
  std::span<const float> rest(checkpoint->floats_);
  for (int part = 0; part < kPartCount; ++part) {
    parts[part] = rest.first(static_cast<size_t>(sizes[part]));
    rest = rest.subspan(parts[part].size());
  }
  Weights& w = checkpoint->weights_;
  w.token_embedding = parts[kEmbedding];
  w.rms_att = parts[kRmsAtt];
  w.wq = parts[kWq];
  w.wk = parts[kWk];
  w.wv = parts[kWv];
  w.wo = parts[kWo];
  w.rms_ffn = parts[kRmsFfn];
  w.w1 = parts[kW1];
  w.w2 = parts[kW2];
  w.w3 = parts[kW3];
  w.rms_final = parts[kRmsFinal];
  w.wcls = config.shared_classifier ? parts[kEmbedding] : parts[kClassifier];
  return checkpoint;
}

absl::StatusOr<Vocabulary> ReadVocabulary(const std::string& path, int32_t vocab_size) {
  if (vocab_size <= 0) {
    return InvalidModelFileError(path, absl::StrFormat("vocab_size %d is not positive",
                                                       vocab_size));
  }
  TESSERA_ASSIGN_OR_RETURN(const std::string bytes, ReadWholeFile(path));
  ByteCursor in(path, bytes.data(), bytes.size());
  Vocabulary vocab;
  TESSERA_ASSIGN_OR_RETURN(vocab.max_token_length, in.Read<uint32_t>("max_token_length"));
  vocab.pieces.reserve(vocab_size);
  vocab.scores.reserve(vocab_size);
  for (int32_t id = 0; id < vocab_size; ++id) {
    const std::string token = absl::StrFormat("token %d of %d", id, vocab_size);
    TESSERA_ASSIGN_OR_RETURN(const float score, in.Read<float>(token));
    TESSERA_ASSIGN_OR_RETURN(const int32_t length, in.Read<int32_t>(token));
    if (length < 0 || static_cast<uint32_t>(length) > vocab.max_token_length) {
      return in.Error(absl::StrFormat("%s has length %d, outside 0..max_token_length %d", token,
                                      length, vocab.max_token_length));
    }
    TESSERA_ASSIGN_OR_RETURN(const std::string_view piece, in.ReadBytes(length, token));
    vocab.pieces.emplace_back(piece);
    vocab.scores.push_back(score);
  }
  if (in.remaining() != 0) {
    return in.Error(absl::StrFormat("%d bytes follow the last of the %d tokens", in.remaining(),
                                    vocab_size));
  }
  return vocab;
}

}  // namespace tessera::llama2c
