// The backend's keyring: the master key (GUCs crosswalk.master_key_file /
// crosswalk.master_key_command, read once per backend) and a cache of the
// unwrapped data keys of crosswalk.key, with the checks every key use makes.
//
// A cached key is re-validated at its first use in each transaction (and
// after this backend changes a key or rolls back a subtransaction): one
// indexed read of its crosswalk.key row, whose (xmin, generation) changes
// with every rotation, grant, revoke and shred. So a shred or revoke
// committed by any session takes effect in every other session from its next
// transaction, while a scan pays for the lookup once, not per row.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "guard.hpp"

#include "aead.hpp"
#include "envelope.hpp"
#include "hmac.hpp"

namespace crosswalk::pg {

// Registers the GUCs and transaction callbacks; called from _PG_init.
void InitEncryption();

struct CachedKey {
  KeyId id{};
  std::string name;
  Algorithm algorithm = Algorithm::kAes256Gcm;
  std::uint32_t current_version = 0;
  bool shredded = false;
  // Identity of the crosswalk.key row this entry was built from.
  std::uint32_t row_xmin = 0;
  std::int64_t row_generation = 0;
  std::map<std::uint32_t, Aead> versions;  // unwrapped data keys
  std::unique_ptr<Hmac> blind_index;       // derived from version 1
  std::vector<unsigned int> grantees;      // role OIDs granted use of the key
  // Validation and access memo, valid while stamp matches the backend's.
  std::uint64_t validated_stamp = 0;
  unsigned int access_user = 0;
  bool access_ok = false;
};

// The key of a ciphertext (by id) or of an encrypt() call (by name),
// validated for this transaction. Unknown keys: 42704.
CachedKey& KeyById(const KeyId& id);
CachedKey& KeyByName(std::string_view name);

// Throws 42501 unless the current user was granted the key or is a member of
// crosswalk_admin; 55000 when the key was shredded.
void RequireKeyUse(CachedKey& key);

// The cipher of one version of the key (42704 when the version is unknown).
Aead& VersionCipher(CachedKey& key, std::uint32_t version);

// The blind-index HMAC of the key, and the match_key() HMAC of the master key.
Hmac& BlindIndexHmac(CachedKey& key);
Hmac& MatchKeyHmac();

// The key that wraps data keys (derived from the master key).
Aead& WrapCipher();

// Refuses (55000) when this server is set to write the parameters of this
// statement to its log: plaintexts passed as bind parameters would land there.
void RequirePlaintextNotLogged(const char* function);

// Makes every cached key re-validate at its next use (this backend changed keys).
void InvalidateKeyCache();

// What one call site (an expression's FmgrInfo, in fn_extra) last used: the
// key, the cipher and the user it was checked for, valid while the
// backend's validation stamp is unchanged. So a scan pays one comparison per
// row instead of a hash lookup and an access check, and still sees every
// change the keyring sees: a new transaction, a key change made by this
// backend, a rolled-back subtransaction, another current user. It lives in
// the function's memory context, which is freed without destructors: plain
// data only.
struct CallSiteKey {
  std::uint64_t stamp;  // 0: empty
  unsigned int user;
  CachedKey* key;
  Aead* cipher;  // decrypt: of the value's version; encrypt: of the newest
  // decrypt: the key and version the cipher is for.
  KeyId id;
  std::uint32_t version;
  // encrypt: the key name the entry was looked up by.
  std::uint8_t name_size;
  char name[64];
};
static_assert(std::is_trivially_destructible_v<CallSiteKey>, "fn_extra is freed without running destructors");

// The call site's cache in fcinfo->flinfo->fn_extra, allocated zeroed in
// the function's memory context at the first call.
CallSiteKey& CallSiteKeyOf(FunctionCallInfo fcinfo);

// The cipher for a value encrypted under key id / version, checked for use by
// the current user (as KeyById + RequireKeyUse + VersionCipher), through the
// call site's cache. *key receives the key (for messages).
Aead& DecryptionCipher(CallSiteKey& site, const KeyId& id, std::uint32_t version, CachedKey** key);

// The cipher of the newest version of the key named name, checked for use
// by the current user (as KeyByName + RequireKeyUse + VersionCipher),
// through the call site's cache. *key receives the key.
Aead& EncryptionCipher(CallSiteKey& site, std::string_view name, CachedKey** key);

}  // namespace crosswalk::pg
