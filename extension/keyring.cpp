#include "keyring.hpp"

#include <cstring>
#include <unordered_map>

#include "canonical_id.hpp"
#include "key_wrap.hpp"
#include "master_key.hpp"

extern "C" {
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "storage/proc.h"
#include "tcop/tcopprot.h"
#include "utils/acl.h"
#include "utils/lsyscache.h"
#include "utils/guc.h"
#include "utils/syscache.h"
#include "utils/uuid.h"
}

namespace crosswalk::pg {
namespace {

char* g_master_key_file = nullptr;
char* g_master_key_command = nullptr;

constexpr const char* kMasterKeyHint =
    "Set crosswalk.master_key_file (a file of 64 hex characters, mode 600, owned by the server's OS user) or "
    "crosswalk.master_key_command (a command printing them) in postgresql.conf, then reload.";

// The master key's derived keys, with the setting they came from.
struct MasterState {
  std::string setting;
  std::unique_ptr<Aead> wrap;
  std::unique_ptr<Hmac> match;
};
MasterState g_master;

struct KeyIdHash {
  std::size_t operator()(const KeyId& id) const noexcept {
    std::size_t h;
    std::memcpy(&h, id.data(), sizeof h);
    return h;
  }
};
std::unordered_map<KeyId, CachedKey, KeyIdHash> g_keys;
std::unordered_map<std::string, KeyId> g_names;

// Bumped to invalidate every validation of this backend; combined with the
// local transaction id into the stamp of a validation.
std::uint32_t g_epoch = 1;

std::uint64_t CurrentStamp() { return std::uint64_t{MyProc->lxid} << 32 | g_epoch; }

void OnSubXact(SubXactEvent event, SubTransactionId, SubTransactionId, void*) {
  // A rolled-back subtransaction may have rotated or shredded a key whose
  // new state we cached: look again.
  if (event == SUBXACT_EVENT_ABORT_SUB) ++g_epoch;
}

void OnXact(XactEvent event, void*) {
  if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT) ++g_epoch;
}

void DropAllKeys() {
  g_keys.clear();
  g_names.clear();
  ++g_epoch;
}

// The current master-key setting as one string ("file:..." / "command:...").
std::string MasterKeySetting() {
  const bool has_file = g_master_key_file != nullptr && g_master_key_file[0] != '\0';
  const bool has_command = g_master_key_command != nullptr && g_master_key_command[0] != '\0';
  if (has_file && has_command) {
    throw Error(sqlstate::kConfigFileError, "both crosswalk.master_key_file and crosswalk.master_key_command are set",
                "Set only one of them.");
  }
  if (has_file) return std::string("file:") + g_master_key_file;
  if (has_command) return std::string("command:") + g_master_key_command;
  throw Error(sqlstate::kConfigFileError, "no master key is configured", kMasterKeyHint);
}

MasterState& Master() {
  std::string setting = MasterKeySetting();
  if (g_master.wrap && g_master.setting == setting) return g_master;
  // A new master key invalidates every data key unwrapped with the old one.
  DropAllKeys();
  g_master = MasterState();
  SecretBytes master =
      setting.rfind("file:", 0) == 0 ? LoadMasterKeyFile(setting.substr(5)) : LoadMasterKeyCommand(setting.substr(8));
  DerivedMasterKeys derived = DeriveMasterKeys(master);
  g_master.wrap = std::make_unique<Aead>(AeadMode::kGcm, derived.wrap_key.view());
  g_master.match = std::make_unique<Hmac>(Digest::kSha256, derived.match_key.view());
  g_master.setting = std::move(setting);
  return g_master;
}

// ---------------------------------------------------------------------------
// Catalog reads. Each runs entirely inside one PgCall (plain C, no C++ object
// alive inside it) as the owner of crosswalk.key, because the caller may
// decrypt without being allowed to read the key tables.
// ---------------------------------------------------------------------------

struct KeyRow {
  bool found;
  pg_uuid_t id;
  char name[256];
  char algorithm[32];
  int32 current_version;
  bool shredded;
  TransactionId xmin;
  int64 generation;
};

struct VersionRow {
  int32 version;
  bytea* wrapped;  // palloc'd in the caller's context
};

struct KeyDetails {
  int nversions;
  VersionRow* versions;
  int ngrantees;
  Oid* grantees;
};

SPIPlanPtr g_by_id_plan = nullptr;
SPIPlanPtr g_by_name_plan = nullptr;
SPIPlanPtr g_versions_plan = nullptr;
SPIPlanPtr g_grants_plan = nullptr;

SPIPlanPtr KeepPlan(SPIPlanPtr* slot, const char* sql, Oid argtype) {
  if (*slot == nullptr) {
    SPIPlanPtr plan = SPI_prepare(sql, 1, &argtype);
    if (plan == nullptr)
      elog(ERROR, "SPI_prepare failed for crosswalk key lookup: %s", SPI_result_code_string(SPI_result));
    if (SPI_keepplan(plan) != 0) elog(ERROR, "SPI_keepplan failed");
    *slot = plan;
  }
  return *slot;
}

Oid KeyTableOwner() {
  Oid nsp = get_namespace_oid("crosswalk", false);
  Oid rel = get_relname_relid("key", nsp);
  if (!OidIsValid(rel)) {
    ereport(ERROR, (errcode(ERRCODE_UNDEFINED_TABLE), errmsg("table crosswalk.key does not exist"),
                    errhint("ALTER EXTENSION crosswalk UPDATE installs the key tables.")));
  }
  HeapTuple tup = SearchSysCache1(RELOID, ObjectIdGetDatum(rel));
  if (!HeapTupleIsValid(tup)) elog(ERROR, "cache lookup failed for relation %u", rel);
  Oid owner = reinterpret_cast<Form_pg_class>(GETSTRUCT(tup))->relowner;
  ReleaseSysCache(tup);
  return owner;
}

// Runs body (plain C) connected to SPI as the key tables' owner.
template <typename Body>
void WithKeyTables(Body&& body) {
  PgCall([&] {
    Oid owner = KeyTableOwner();
    Oid save_user;
    int save_sec;
    GetUserIdAndSecContext(&save_user, &save_sec);
    SetUserIdAndSecContext(owner, save_sec | SECURITY_LOCAL_USERID_CHANGE | SECURITY_RESTRICTED_OPERATION);
    PG_TRY();
    {
      if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "SPI_connect failed");
      body();
      SPI_finish();
    }
    PG_FINALLY();
    { SetUserIdAndSecContext(save_user, save_sec); }
    PG_END_TRY();
  });
}

void CopyText(Datum d, char* out, std::size_t cap) {
  text* t = DatumGetTextPP(d);
  std::size_t n = VARSIZE_ANY_EXHDR(t);
  if (n >= cap) n = cap - 1;
  std::memcpy(out, VARDATA_ANY(t), n);
  out[n] = '\0';
}

KeyRow ReadKeyRow(const KeyId* id, std::string_view name) {
  KeyRow row{};
  // The name is copied into a palloc'd text before entering plain C code.
  text* name_text = nullptr;
  if (id == nullptr) {
    name_text = reinterpret_cast<text*>(PgCall([&] { return cstring_to_text_with_len(name.data(), name.size()); }));
  }
  WithKeyTables([&] {
    Datum arg;
    SPIPlanPtr plan;
    if (id != nullptr) {
      plan = KeepPlan(&g_by_id_plan,
                      "SELECT k.key_id, k.name, k.algorithm, k.current_version, k.shredded_at IS NOT NULL, k.xmin, "
                      "k.generation FROM crosswalk.key k WHERE k.key_id OPERATOR(pg_catalog.=) $1",
                      UUIDOID);
      arg = UUIDPGetDatum(reinterpret_cast<pg_uuid_t*>(const_cast<std::uint8_t*>(id->data())));
    } else {
      plan = KeepPlan(&g_by_name_plan,
                      "SELECT k.key_id, k.name, k.algorithm, k.current_version, k.shredded_at IS NOT NULL, k.xmin, "
                      "k.generation FROM crosswalk.key k WHERE k.name OPERATOR(pg_catalog.=) $1",
                      TEXTOID);
      arg = PointerGetDatum(name_text);
    }
    if (SPI_execute_plan(plan, &arg, nullptr, true, 1) != SPI_OK_SELECT) elog(ERROR, "crosswalk key lookup failed");
    if (SPI_processed == 0) return;
    HeapTuple tup = SPI_tuptable->vals[0];
    TupleDesc desc = SPI_tuptable->tupdesc;
    bool isnull;
    row.found = true;
    std::memcpy(&row.id, DatumGetUUIDP(SPI_getbinval(tup, desc, 1, &isnull)), sizeof row.id);
    CopyText(SPI_getbinval(tup, desc, 2, &isnull), row.name, sizeof row.name);
    CopyText(SPI_getbinval(tup, desc, 3, &isnull), row.algorithm, sizeof row.algorithm);
    row.current_version = DatumGetInt32(SPI_getbinval(tup, desc, 4, &isnull));
    row.shredded = DatumGetBool(SPI_getbinval(tup, desc, 5, &isnull));
    row.xmin = DatumGetTransactionId(SPI_getbinval(tup, desc, 6, &isnull));
    row.generation = DatumGetInt64(SPI_getbinval(tup, desc, 7, &isnull));
  });
  return row;
}

KeyDetails ReadKeyDetails(const KeyId& id) {
  KeyDetails details{};
  WithKeyTables([&] {
    Datum arg = UUIDPGetDatum(reinterpret_cast<pg_uuid_t*>(const_cast<std::uint8_t*>(id.data())));
    SPIPlanPtr versions = KeepPlan(&g_versions_plan,
                                   "SELECT v.version, v.wrapped FROM crosswalk.key_version v "
                                   "WHERE v.key_id OPERATOR(pg_catalog.=) $1",
                                   UUIDOID);
    if (SPI_execute_plan(versions, &arg, nullptr, true, 0) != SPI_OK_SELECT) elog(ERROR, "crosswalk key lookup failed");
    details.nversions = static_cast<int>(SPI_processed);
    details.versions = static_cast<VersionRow*>(SPI_palloc(sizeof(VersionRow) * (SPI_processed + 1)));
    for (uint64 i = 0; i < SPI_processed; ++i) {
      HeapTuple tup = SPI_tuptable->vals[i];
      bool isnull;
      details.versions[i].version = DatumGetInt32(SPI_getbinval(tup, SPI_tuptable->tupdesc, 1, &isnull));
      bytea* w = DatumGetByteaPP(SPI_getbinval(tup, SPI_tuptable->tupdesc, 2, &isnull));
      bytea* copy = static_cast<bytea*>(SPI_palloc(VARSIZE_ANY_EXHDR(w) + VARHDRSZ));
      SET_VARSIZE(copy, VARSIZE_ANY_EXHDR(w) + VARHDRSZ);
      std::memcpy(VARDATA(copy), VARDATA_ANY(w), VARSIZE_ANY_EXHDR(w));
      details.versions[i].wrapped = copy;
    }
    SPIPlanPtr grants =
        KeepPlan(&g_grants_plan, "SELECT g.grantee FROM crosswalk.key_grant g WHERE g.key_id OPERATOR(pg_catalog.=) $1",
                 UUIDOID);
    if (SPI_execute_plan(grants, &arg, nullptr, true, 0) != SPI_OK_SELECT) elog(ERROR, "crosswalk key lookup failed");
    details.ngrantees = static_cast<int>(SPI_processed);
    details.grantees = static_cast<Oid*>(SPI_palloc(sizeof(Oid) * (SPI_processed + 1)));
    for (uint64 i = 0; i < SPI_processed; ++i) {
      bool isnull;
      details.grantees[i] = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull));
    }
  });
  return details;
}

KeyId ToKeyId(const pg_uuid_t& u) {
  KeyId id;
  std::memcpy(id.data(), u.data, id.size());
  return id;
}

[[noreturn]] void ThrowUnknownKeyId(const KeyId& id) {
  throw Error("42704",
              "the value is encrypted under key " + FormatCanonicalId(id) + ", which this database does not have",
              "Keys live in crosswalk.key of each database; a value copied from another database needs its key there.");
}

// Brings entry up to date with row: reloads versions and grants when the row
// changed since the entry was built.
CachedKey& Refresh(const KeyRow& row) {
  const KeyId id = ToKeyId(row.id);
  auto it = g_keys.find(id);
  if (it == g_keys.end() || it->second.row_xmin != row.xmin || it->second.row_generation != row.generation) {
    if (it != g_keys.end()) {
      // Call sites may point at the entry being replaced: they look again.
      ++g_epoch;
      g_names.erase(it->second.name);
      g_keys.erase(it);
    }
    CachedKey fresh;
    fresh.id = id;
    fresh.name = row.name;
    auto alg = ParseAlgorithm(row.algorithm);
    if (!alg)
      throw Error(sqlstate::kDataCorrupted, "key \"" + fresh.name + "\" has unknown algorithm " + row.algorithm);
    fresh.algorithm = *alg;
    fresh.current_version = static_cast<std::uint32_t>(row.current_version);
    fresh.shredded = row.shredded;
    fresh.row_xmin = row.xmin;
    fresh.row_generation = row.generation;
    KeyDetails details = ReadKeyDetails(id);
    Aead& wrap = *Master().wrap;
    for (int i = 0; i < details.nversions; ++i) {
      const VersionRow& v = details.versions[i];
      SecretBytes dk = UnwrapDataKey(
          wrap, id, static_cast<std::uint32_t>(v.version), fresh.algorithm,
          ByteView(reinterpret_cast<const std::uint8_t*>(VARDATA(v.wrapped)), VARSIZE(v.wrapped) - VARHDRSZ));
      if (v.version == 1)
        fresh.blind_index = std::make_unique<Hmac>(Digest::kSha256, DeriveBlindIndexKey(dk.view(), id).view());
      fresh.versions.emplace(static_cast<std::uint32_t>(v.version), Aead(ModeOf(fresh.algorithm), dk.view()));
    }
    for (int i = 0; i < details.ngrantees; ++i) fresh.grantees.push_back(details.grantees[i]);
    it = g_keys.emplace(id, std::move(fresh)).first;
  }
  g_names[it->second.name] = id;
  it->second.validated_stamp = CurrentStamp();
  it->second.access_user = InvalidOid;
  return it->second;
}

}  // namespace

void InitEncryption() {
  DefineCustomStringVariable(
      "crosswalk.master_key_file", "File holding the master key as 64 hex characters (mode 600, owned by the server).",
      nullptr, &g_master_key_file, "", PGC_SIGHUP, GUC_SUPERUSER_ONLY, nullptr, nullptr, nullptr);
  DefineCustomStringVariable("crosswalk.master_key_command",
                             "Shell command that prints the master key as 64 hex characters.", nullptr,
                             &g_master_key_command, "", PGC_SIGHUP, GUC_SUPERUSER_ONLY, nullptr, nullptr, nullptr);
  RegisterXactCallback(OnXact, nullptr);
  RegisterSubXactCallback(OnSubXact, nullptr);
}

CachedKey& KeyById(const KeyId& id) {
  auto it = g_keys.find(id);
  if (it != g_keys.end() && it->second.validated_stamp == CurrentStamp()) return it->second;
  KeyRow row = ReadKeyRow(&id, {});
  if (!row.found) ThrowUnknownKeyId(id);
  return Refresh(row);
}

CachedKey& KeyByName(std::string_view name) {
  auto n = g_names.find(std::string(name));
  if (n != g_names.end()) {
    auto it = g_keys.find(n->second);
    if (it != g_keys.end() && it->second.validated_stamp == CurrentStamp()) return it->second;
  }
  KeyRow row = ReadKeyRow(nullptr, name);
  if (!row.found) {
    throw Error("42704", "key " + QuoteForMessage(name) + " does not exist",
                "crosswalk.create_key() creates it; crosswalk.key lists the keys.");
  }
  return Refresh(row);
}

void RequireKeyUse(CachedKey& key) {
  if (key.shredded) {
    throw Error("55000", "key \"" + key.name + "\" was shredded: its values can no longer be decrypted or written",
                "Shredding is final; create a new key for new values.");
  }
  const Oid user = GetUserId();
  if (key.access_user != user) {
    bool ok = false;
    for (unsigned int role : key.grantees) {
      if (PgCall([&] { return has_privs_of_role(user, role); })) {
        ok = true;
        break;
      }
    }
    if (!ok) {
      ok = PgCall([&] {
        Oid admin = get_role_oid("crosswalk_admin", true);
        return OidIsValid(admin) && has_privs_of_role(user, admin);
      });
    }
    key.access_user = user;
    key.access_ok = ok;
  }
  if (!key.access_ok) {
    const char* role = PgCall([&] { return GetUserNameFromId(user, true); });
    throw Error(sqlstate::kInsufficientPrivilege,
                "permission denied for key \"" + key.name + "\"" + (role ? std::string(" to role ") + role : ""),
                "crosswalk.grant_decrypt('" + key.name +
                    "', ROLE) grants its use; members of crosswalk_admin may use "
                    "every key.");
  }
}

Aead& VersionCipher(CachedKey& key, std::uint32_t version) {
  auto it = key.versions.find(version);
  if (it == key.versions.end()) {
    throw Error("42704", "key \"" + key.name + "\" has no version " + std::to_string(version),
                "The value names a key version this database does not have.");
  }
  return it->second;
}

Hmac& BlindIndexHmac(CachedKey& key) {
  if (!key.blind_index) throw Error("42704", "key \"" + key.name + "\" has no version 1 to derive blind indexes from");
  return *key.blind_index;
}

Hmac& MatchKeyHmac() { return *Master().match; }

Aead& WrapCipher() { return *Master().wrap; }

void RequirePlaintextNotLogged(const char* function) {
  const bool statements_logged = log_statement == LOGSTMT_MOD || log_statement == LOGSTMT_ALL ||
                                 log_min_duration_statement >= 0 || log_min_duration_sample >= 0 ||
                                 log_xact_sample_rate > 0;
  if ((statements_logged && log_parameter_max_length != 0) || log_parameter_max_length_on_error != 0) {
    throw Error("55000",
                std::string("crosswalk.") + function +
                    "() refuses to run while the server logs statement parameters: a plaintext passed as a "
                    "parameter would be written to the server log",
                "Set log_parameter_max_length = 0 and log_parameter_max_length_on_error = 0 (or stop logging "
                "statements).");
  }
}

void InvalidateKeyCache() { ++g_epoch; }

CallSiteKey& CallSiteKeyOf(FunctionCallInfo fcinfo) {
  FmgrInfo* flinfo = fcinfo->flinfo;
  if (flinfo->fn_extra == nullptr) {
    flinfo->fn_extra = PgCall([&] { return MemoryContextAllocZero(flinfo->fn_mcxt, sizeof(CallSiteKey)); });
  }
  return *static_cast<CallSiteKey*>(flinfo->fn_extra);
}

Aead& DecryptionCipher(CallSiteKey& site, const KeyId& id, std::uint32_t version, CachedKey** key) {
  const Oid user = GetUserId();
  if (site.stamp == CurrentStamp() && site.user == user && site.version == version && site.id == id) {
    *key = site.key;
    return *site.cipher;
  }
  site.stamp = 0;  // empty until every check below has passed
  CachedKey& k = KeyById(id);
  *key = &k;
  RequireKeyUse(k);
  Aead& cipher = VersionCipher(k, version);
  site.key = &k;
  site.cipher = &cipher;
  site.id = id;
  site.version = version;
  site.user = user;
  site.stamp = CurrentStamp();
  return cipher;
}

Aead& EncryptionCipher(CallSiteKey& site, std::string_view name, CachedKey** key) {
  const Oid user = GetUserId();
  if (site.stamp == CurrentStamp() && site.user == user && site.name_size == name.size() &&
      std::memcmp(site.name, name.data(), name.size()) == 0) {
    *key = site.key;
    return *site.cipher;
  }
  site.stamp = 0;
  CachedKey& k = KeyByName(name);
  *key = &k;
  RequireKeyUse(k);
  Aead& cipher = VersionCipher(k, k.current_version);
  if (name.size() < sizeof site.name) {  // key names are at most 63 characters
    std::memcpy(site.name, name.data(), name.size());
    site.name_size = static_cast<std::uint8_t>(name.size());
    site.key = &k;
    site.cipher = &cipher;
    site.user = user;
    site.stamp = CurrentStamp();
  }
  return cipher;
}

}  // namespace crosswalk::pg
