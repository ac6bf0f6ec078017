#include "master_key_file.hpp"

#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <stdexcept>

#include "cluster.hpp"

namespace crosswalk::test {
namespace {

// Gives path to the server's OS user when we are root (the server runs as postgres).
void ChownToServerUser(const std::string& path) {
  if (geteuid() != 0) return;
  struct passwd* pw = getpwnam("postgres");
  if (pw == nullptr) throw std::runtime_error("no postgres OS user to own the master key file");
  if (chown(path.c_str(), pw->pw_uid, pw->pw_gid) != 0) throw std::runtime_error("chown failed: " + path);
}

}  // namespace

MasterKeyFile::MasterKeyFile(const std::string& hex, unsigned mode) {
  char tmpl[] = "/tmp/crosswalk-masterkey.XXXXXX";
  if (mkdtemp(tmpl) == nullptr) throw std::runtime_error("mkdtemp failed");
  dir_ = tmpl;
  path_ = dir_ + "/master.key";
  ChownToServerUser(dir_);
  Rewrite(hex + "\n", mode);
}

MasterKeyFile::~MasterKeyFile() { Shell("rm -rf '" + dir_ + "'"); }

void MasterKeyFile::Rewrite(const std::string& content, unsigned mode) const {
  {
    std::ofstream f(path_, std::ios::trunc);
    f << content;
    if (!f) throw std::runtime_error("cannot write " + path_);
  }
  ChownToServerUser(path_);
  if (chmod(path_.c_str(), mode) != 0) throw std::runtime_error("chmod failed: " + path_);
}

std::string TestMasterKeyHex(int seed) {
  std::string hex;
  char buf[3];
  for (int i = 0; i < 32; ++i) {
    std::snprintf(buf, sizeof buf, "%02x", (seed * 37 + i * 11) & 0xff);
    hex += buf;
  }
  return hex;
}

}  // namespace crosswalk::test
