// Master key loading, the derived keys, data key wrapping and match keys.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <functional>
#include <fstream>
#include <string>

#include "error.hpp"
#include "key_wrap.hpp"
#include "master_key.hpp"
#include "match_key.hpp"

namespace crosswalk {
namespace {

const std::string kHex = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/crosswalk-keytest.XXXXXX";
    path_ = mkdtemp(tmpl);
  }
  ~TempDir() { std::system(("rm -rf '" + path_ + "'").c_str()); }
  std::string Write(const std::string& name, const std::string& content, mode_t mode) {
    std::string p = path_ + "/" + name;
    std::ofstream(p) << content;
    chmod(p.c_str(), mode);
    return p;
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::string Code(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return std::string(e.sqlstate()) + ": " + e.what();
  }
  return "ok";
}

TEST(MasterKey, LoadsAGoodFile) {
  TempDir d;
  for (std::string content : {kHex, kHex + "\n", kHex + "\r\n"}) {
    auto key = LoadMasterKeyFile(d.Write("k", content, 0600));
    ASSERT_EQ(key.size(), 32u);
    EXPECT_EQ(EncodeHex(key.view()), kHex);
  }
  std::string upper = kHex;
  for (char& c : upper) c = static_cast<char>(std::toupper(c));
  EXPECT_EQ(EncodeHex(LoadMasterKeyFile(d.Write("u", upper, 0400)).view()), kHex);
}

TEST(MasterKey, RefusesBadFiles) {
  TempDir d;
  EXPECT_EQ(Code([&] { LoadMasterKeyFile(d.path() + "/missing"); }).substr(0, 5), "58P01");
  for (mode_t mode : {0640, 0604, 0644, 0660, 0666, 0602}) {
    std::string r = Code([&] { LoadMasterKeyFile(d.Write("open", kHex, mode)); });
    EXPECT_EQ(r.substr(0, 5), "F0000") << mode;
    EXPECT_NE(r.find("group or others"), std::string::npos) << r;
  }
  EXPECT_NE(Code([&] { LoadMasterKeyFile(d.path()); }).find("not a regular file"), std::string::npos);
  for (std::string content : {std::string(), kHex.substr(0, 62), kHex + "00", kHex + "\n\n", " " + kHex,
                              kHex.substr(0, 63) + "g", std::string(1000, 'a')}) {
    std::string r = Code([&] { LoadMasterKeyFile(d.Write("bad", content, 0600)); });
    EXPECT_EQ(r.substr(0, 5), "F0000") << content;
    EXPECT_NE(r.find("expected 64 hex characters"), std::string::npos) << r;
    // The error never echoes the file's content.
    if (content.size() >= 8) {
      EXPECT_EQ(r.find(content.substr(0, 8)), std::string::npos) << r;
    }
  }
  std::string link = d.path() + "/link";
  ASSERT_EQ(symlink(d.Write("target", kHex, 0600).c_str(), link.c_str()), 0);
  EXPECT_EQ(Code([&] { LoadMasterKeyFile(link); }).substr(0, 5), "F0000") << "symlinks are not followed";
}

TEST(MasterKey, LoadsFromACommand) {
  EXPECT_EQ(EncodeHex(LoadMasterKeyCommand("echo " + kHex).view()), kHex);
  std::string r = Code([] { LoadMasterKeyCommand("echo nope"); });
  EXPECT_EQ(r.substr(0, 5), "F0000");
  EXPECT_EQ(r.find("nope"), std::string::npos) << "the output is never echoed: " << r;
  EXPECT_NE(Code([] { LoadMasterKeyCommand("echo " + kHex + "; exit 3"); }).find("exited with status 3"),
            std::string::npos);
  EXPECT_NE(Code([] { LoadMasterKeyCommand("kill -9 $$"); }).find("killed by signal 9"), std::string::npos);
  EXPECT_EQ(Code([] { LoadMasterKeyCommand("yes | head -c 100000"); }).substr(0, 5), "F0000");
}

TEST(MasterKey, DerivedKeysAreDistinctAndStable) {
  auto master = ParseMasterKeyHex(kHex, "test");
  auto a = DeriveMasterKeys(master), b = DeriveMasterKeys(master);
  EXPECT_EQ(EncodeHex(a.wrap_key.view()), EncodeHex(b.wrap_key.view()));
  EXPECT_NE(EncodeHex(a.wrap_key.view()), EncodeHex(a.match_key.view()));
  EXPECT_NE(EncodeHex(a.wrap_key.view()), kHex);
}

TEST(KeyWrap, WrapsAndUnwrapsBoundToKeyIdVersionAndAlgorithm) {
  auto keys = DeriveMasterKeys(ParseMasterKeyHex(kHex, "test"));
  Aead wrap(AeadMode::kGcm, keys.wrap_key.view());
  KeyId id{};
  id[0] = 1;
  for (Algorithm alg : {Algorithm::kAes256Gcm, Algorithm::kAes256Siv}) {
    auto dk = NewDataKey(alg);
    ASSERT_EQ(dk.size(), alg == Algorithm::kAes256Gcm ? 32u : 64u);
    auto wrapped = WrapDataKey(wrap, id, 1, alg, dk.view());
    EXPECT_EQ(wrapped.size(), WrappedKeySize(alg));
    EXPECT_EQ(std::string(wrapped.begin(), wrapped.end()).find(std::string(dk.data(), dk.data() + 8)),
              std::string::npos);
    EXPECT_EQ(EncodeHex(UnwrapDataKey(wrap, id, 1, alg, wrapped).view()), EncodeHex(dk.view()));
    KeyId other = id;
    other[15] = 9;
    EXPECT_EQ(Code([&] { UnwrapDataKey(wrap, other, 1, alg, wrapped); }).substr(0, 5), "XX001");
    EXPECT_EQ(Code([&] { UnwrapDataKey(wrap, id, 2, alg, wrapped); }).substr(0, 5), "XX001");
    for (std::size_t i = 0; i < wrapped.size(); ++i) {
      auto bad = wrapped;
      bad[i] ^= 0x01;
      EXPECT_EQ(Code([&] { UnwrapDataKey(wrap, id, 1, alg, bad); }).substr(0, 5), "XX001") << i;
    }
    std::vector<std::uint8_t> cut(wrapped.begin(), wrapped.end() - 1);
    EXPECT_EQ(Code([&] { UnwrapDataKey(wrap, id, 1, alg, cut); }).substr(0, 5), "XX001");
    // Another master key cannot unwrap.
    auto other_keys = DeriveMasterKeys(ParseMasterKeyHex(std::string(64, 'f'), "test"));
    Aead other_wrap(AeadMode::kGcm, other_keys.wrap_key.view());
    EXPECT_NE(Code([&] { UnwrapDataKey(other_wrap, id, 1, alg, wrapped); }).find("another master key"),
              std::string::npos);
  }
}

TEST(MatchKey, Normalises) {
  EXPECT_EQ(NormalizeForMatch("email", "  Ada@Example.ORG \n"), "ada@example.org");
  EXPECT_EQ(NormalizeForMatch("email", "\xc3\x89LISE@x.fr"), "\xc3\x89lise@x.fr");  // ASCII letters only
  EXPECT_EQ(NormalizeForMatch("phone", "+33 (0)6 12-34-56-78"), "330612345678");
  EXPECT_EQ(Code([] { NormalizeForMatch("email", " \t "); }).substr(0, 5), "22023");
  EXPECT_EQ(Code([] { NormalizeForMatch("phone", "n/a"); }).substr(0, 5), "22023");
  EXPECT_EQ(Code([] { NormalizeForMatch("ssn", "1"); }).substr(0, 5), "22023");
}

// A known answer computed independently of this code, with Python's hashlib:
//   import hmac, hashlib
//   prk = hmac.new(b"crosswalk master key v1", bytes(range(32)), hashlib.sha256).digest()
//   k = hmac.new(prk, b"crosswalk match key v1\x01", hashlib.sha256).digest()
//   hmac.new(k, b"email\x00ada@example.org", hashlib.sha256).hexdigest()
TEST(MatchKey, KnownAnswer) {
  auto keys = DeriveMasterKeys(ParseMasterKeyHex(kHex, "test"));
  Hmac h(Digest::kSha256, keys.match_key.view());
  std::uint8_t out[kMatchKeySize];
  ComputeMatchKey(h, "email", NormalizeForMatch("email", " ADA@example.org"), out);
  EXPECT_EQ(EncodeHex(ByteView(out, sizeof out)), "5acd9414d254db71bf808a2611d47b0aca6ab382d1243ec58195723abe240d52");
  std::uint8_t phone[kMatchKeySize];
  ComputeMatchKey(h, "phone", "ada@example.org", phone);
  EXPECT_NE(EncodeHex(ByteView(phone, sizeof phone)), EncodeHex(ByteView(out, sizeof out)));
}

}  // namespace
}  // namespace crosswalk
