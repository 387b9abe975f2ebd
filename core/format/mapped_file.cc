#include "core/format/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/str_format.h"
#include "core/format/model_file_error.h"

namespace tessera {
namespace {

// Closes the descriptor on every path out of Open; the mapping outlives it.
class ScopedFd {
 public:
  explicit ScopedFd(int fd) : fd_(fd) {}
  ~ScopedFd() {
    if (fd_ >= 0) close(fd_);
  }
  ScopedFd(const ScopedFd&) = delete;
  ScopedFd& operator=(const ScopedFd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

absl::Status SystemError(const std::string& path, std::string_view action) {
  return InvalidModelFileError(path, absl::StrFormat("cannot be %s: %s", action,
                                                     std::strerror(errno)));
}

}  // namespace

absl::StatusOr<MappedFile> MappedFile::Open(const std::string& path) {
  const ScopedFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) {
    if (errno == ENOENT || errno == ENOTDIR) return ModelFileNotFoundError(path);
    return SystemError(path, "opened");
  }
  struct stat st;
  if (fstat(fd.get(), &st) != 0) return SystemError(path, "read");
  if (!S_ISREG(st.st_mode)) return InvalidModelFileError(path, "is not a regular file");
  MappedFile file(path);
  file.size_ = static_cast<uint64_t>(st.st_size);
  if (file.size_ > 0) {
    void* mapped = mmap(nullptr, file.size_, PROT_READ, MAP_PRIVATE, fd.get(), 0);
    if (mapped == MAP_FAILED) return SystemError(path, "mapped");
    file.data_ = static_cast<const uint8_t*>(mapped);
  }
  return file;
}

MappedFile::MappedFile(MappedFile&& other) noexcept
    : path_(std::move(other.path_)),
      data_(std::exchange(other.data_, nullptr)),
      size_(std::exchange(other.size_, 0)) {}

MappedFile::~MappedFile() {
  if (data_ != nullptr) munmap(const_cast<uint8_t*>(data_), size_);
}

}  // namespace tessera
