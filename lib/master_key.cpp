#include "master_key.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <vector>

#include "error.hpp"
#include "hmac.hpp"
#include "pure_cpp.hpp"

namespace crosswalk {
namespace {

constexpr std::size_t kMaxKeyText = 256;  // more than this is not a key file

constexpr const char* kFileHint =
    "The master key file holds 64 hex characters (32 random bytes), for example made with "
    "\"openssl rand -hex 32 > FILE; chmod 600 FILE\", owned by the server's OS user.";

std::string ModeString(mode_t mode) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(mode & 07777));
  return buf;
}

struct FdCloser {
  int fd;
  ~FdCloser() {
    if (fd >= 0) close(fd);
  }
};

}  // namespace

SecretBytes ParseMasterKeyHex(std::string_view text, const std::string& source) {
  if (text.size() >= 2 && text.substr(text.size() - 2) == "\r\n") {
    text.remove_suffix(2);
  } else if (!text.empty() && text.back() == '\n') {
    text.remove_suffix(1);
  }
  std::vector<std::uint8_t> bytes;
  if (text.size() != 2 * kMasterKeySize || !DecodeHex(text, &bytes)) {
    if (!bytes.empty()) std::memset(bytes.data(), 0, bytes.size());
    throw Error(sqlstate::kConfigFileError,
                source + " does not hold a master key: expected 64 hex characters, got " + std::to_string(text.size()) +
                    " characters" + (text.size() == 2 * kMasterKeySize ? " that are not all hex digits" : ""),
                kFileHint);
  }
  SecretBytes key(bytes.data(), bytes.size());
  std::memset(bytes.data(), 0, bytes.size());
  return key;
}

SecretBytes LoadMasterKeyFile(const std::string& path) {
  const std::string source = "master key file \"" + path + "\"";
  FdCloser f{open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK)};
  if (f.fd < 0) {
    int e = errno;
    throw Error(e == ENOENT ? "58P01" : sqlstate::kConfigFileError,
                "could not open " + source + ": " + std::strerror(e), kFileHint);
  }
  struct stat st;
  if (fstat(f.fd, &st) != 0) {
    throw Error(sqlstate::kConfigFileError, "could not stat " + source + ": " + std::strerror(errno));
  }
  if (!S_ISREG(st.st_mode)) throw Error(sqlstate::kConfigFileError, source + " is not a regular file", kFileHint);
  if (st.st_uid != geteuid()) {
    throw Error(sqlstate::kConfigFileError, source + " is not owned by the user the server runs as",
                "chown it to the server's OS user and chmod 600 it.");
  }
  if ((st.st_mode & 077) != 0) {
    throw Error(sqlstate::kConfigFileError,
                source + " has mode " + ModeString(st.st_mode) + ": group or others may access it",
                "Run chmod 600 on it (or 400): only the server's OS user may read the master key.");
  }
  char buf[kMaxKeyText + 1];
  std::size_t len = 0;
  while (len < sizeof buf) {
    ssize_t n = read(f.fd, buf + len, sizeof buf - len);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw Error(sqlstate::kConfigFileError, "could not read " + source + ": " + std::strerror(errno));
    if (n == 0) break;
    len += static_cast<std::size_t>(n);
  }
  struct Wipe {
    char* p;
    ~Wipe() { std::memset(p, 0, kMaxKeyText + 1); }
  } wipe{buf};
  return ParseMasterKeyHex(std::string_view(buf, len), source);
}

SecretBytes LoadMasterKeyCommand(const std::string& command) {
  const std::string source = "the output of crosswalk.master_key_command";
  std::fflush(nullptr);
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) {
    throw Error(sqlstate::kConfigFileError,
                "could not run crosswalk.master_key_command: " + std::string(std::strerror(errno)));
  }
  char buf[kMaxKeyText + 1];
  std::size_t len = 0;
  // Read to the end so the command never blocks on a full pipe.
  char sink[512];
  std::size_t n;
  while ((n = std::fread(sink, 1, sizeof sink, pipe)) > 0) {
    std::size_t take = std::min(n, sizeof buf - len);
    std::memcpy(buf + len, sink, take);
    len += take;
  }
  std::memset(sink, 0, sizeof sink);
  int status = pclose(pipe);
  struct Wipe {
    char* p;
    ~Wipe() { std::memset(p, 0, kMaxKeyText + 1); }
  } wipe{buf};
  if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::string how = status == -1          ? std::string("could not be waited for")
                      : WIFEXITED(status)   ? "exited with status " + std::to_string(WEXITSTATUS(status))
                      : WIFSIGNALED(status) ? "was killed by signal " + std::to_string(WTERMSIG(status))
                                            : std::string("failed");
    throw Error(sqlstate::kConfigFileError, "crosswalk.master_key_command " + how,
                "The command must print the 64 hex characters of the master key and exit with status 0.");
  }
  return ParseMasterKeyHex(std::string_view(buf, len), source);
}

DerivedMasterKeys DeriveMasterKeys(const SecretBytes& master_key) {
  static constexpr std::string_view kSalt = "crosswalk master key v1";
  DerivedMasterKeys keys;
  keys.wrap_key = Hkdf(Digest::kSha256, master_key.view(), kSalt, std::string_view("crosswalk data key wrap v1"), 32);
  keys.match_key = Hkdf(Digest::kSha256, master_key.view(), kSalt, std::string_view("crosswalk match key v1"), 32);
  return keys;
}

}  // namespace crosswalk
