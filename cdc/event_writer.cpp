#include "event_writer.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <nlohmann/json.hpp>

#include "error.hpp"

namespace crosswalk::cdc {

namespace {
// How often acknowledgements may cost an fsync while the stream is busy.
constexpr auto kSyncEvery = std::chrono::milliseconds(50);
// A crash (kill -9) mid-write can leave the last line cut short. It was
// never acknowledged (its transaction comes again from the slot), so it is
// cut off before appending, and every line stays whole JSON.
void DropPartialLine(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDWR);
  if (fd < 0) return;  // a new file
  off_t end = ::lseek(fd, 0, SEEK_END);
  off_t keep = end;
  char c = 0;
  while (keep > 0 && ::pread(fd, &c, 1, keep - 1) == 1 && c != '\n') --keep;
  int rc = keep < end ? ::ftruncate(fd, keep) : 0;
  int saved = errno;
  ::close(fd);
  if (rc != 0) throw Error("58030", "cannot cut the partial last line of " + path + ": " + std::strerror(saved));
}

}  // namespace

FileWriter::FileWriter(const std::string& path, bool cut_partial_line) : path_(path) {
  if (path == "-") {
    file_ = stdout;
  } else {
    if (cut_partial_line) DropPartialLine(path);
    file_ = std::fopen(path.c_str(), "a");
    if (!file_) throw Error("58030", "cannot open event file " + path + ": " + std::strerror(errno));
    owned_ = true;
  }
  last_sync_ = std::chrono::steady_clock::now();
}

FileWriter::~FileWriter() {
  if (owned_) std::fclose(file_);
}

void FileWriter::Produce(const std::string& topic, int partition, const std::optional<std::string>& key,
                         const std::string& value, std::uint64_t token) {
  // Key and value are already JSON text: spliced, not re-encoded.
  std::string line = "{\"topic\":" + nlohmann::json(topic).dump() + ",\"partition\":" + std::to_string(partition) +
                     ",\"key\":" + (key ? *key : "null") + ",\"value\":" + value + "}\n";
  if (std::fwrite(line.data(), 1, line.size(), file_) != line.size()) {
    throw Error(
        errno == EPIPE ? "55000" : "58030",
        "cannot write events to " + (path_ == "-" ? std::string("stdout") : path_) + ": " + std::strerror(errno));
  }
  unsynced_.push_back(token);
}

void FileWriter::Sync(std::vector<Delivery>& out) {
  if (unsynced_.empty()) return;
  if (std::fflush(file_) != 0) {
    throw Error(errno == EPIPE ? "55000" : "58030", "cannot write events to " + path_ + ": " + std::strerror(errno));
  }
  // A pipe or a terminal cannot be fsync'ed: flushed is as far as it goes.
  if (owned_ && ::fsync(fileno(file_)) != 0 && errno != EINVAL && errno != ENOTSUP) {
    throw Error("58030", "cannot fsync event file " + path_ + ": " + std::strerror(errno));
  }
  for (auto t : unsynced_) out.push_back(Delivery{t, {}});
  unsynced_.clear();
  last_sync_ = std::chrono::steady_clock::now();
}

void FileWriter::Poll(int timeout_ms, std::vector<Delivery>& out) {
  if (timeout_ms > 0 || std::chrono::steady_clock::now() - last_sync_ >= kSyncEvery) Sync(out);
}

bool FileWriter::Flush(int, std::vector<Delivery>& out) {
  Sync(out);
  return true;
}

}  // namespace crosswalk::cdc
