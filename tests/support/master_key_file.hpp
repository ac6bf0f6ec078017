// A master key file for a throwaway cluster: 64 hex characters in a folder
// of its own, mode 600, owned by the OS user the server runs as (postgres
// when the tests run as root). Removed by the destructor.
#pragma once

#include <string>

namespace crosswalk::test {

class MasterKeyFile {
 public:
  // hex: the 64 hex characters; mode: the file's permission bits.
  explicit MasterKeyFile(const std::string& hex, unsigned mode = 0600);
  ~MasterKeyFile();
  MasterKeyFile(const MasterKeyFile&) = delete;
  MasterKeyFile& operator=(const MasterKeyFile&) = delete;

  const std::string& path() const { return path_; }
  // The postgresql.conf line that points a cluster at this file.
  std::string ConfLine() const { return "crosswalk.master_key_file = '" + path_ + "'"; }
  // Rewrites the file (content and mode), keeping its owner.
  void Rewrite(const std::string& content, unsigned mode) const;

 private:
  std::string dir_;
  std::string path_;
};

// A test master key as hex (deterministic per seed).
std::string TestMasterKeyHex(int seed);

}  // namespace crosswalk::test
