// Single sign-on at the data layer: crosswalk.verify_jwt, crosswalk.authenticate
// and crosswalk.current_identity, the GUCs crosswalk.jwt_leeway and
// crosswalk.jwt_autolink, and the per-backend cache of platforms' keys.
//
// The identity set by authenticate() lives in this backend's memory, never
// in a GUC, so no SET, set_config or SET LOCAL can forge it; it is cleared
// at the end of the transaction and restored when the subtransaction that
// set it aborts. Platforms' parsed keys are cached per backend and dropped
// whenever crosswalk.platform changes: a statement trigger on the table
// sends a relcache invalidation for it, which every backend receives at its
// next transaction start (and this one at its next command).
#include "guard.hpp"

#include <chrono>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>

#include "auth_stats.hpp"
#include "canonical_id.hpp"
#include "jose_json.hpp"
#include "jwk.hpp"
#include "jws.hpp"
#include "jwt_claims.hpp"
#include "jwt_error.hpp"
#include "keyring.hpp"
#include "platform_secret.hpp"

extern "C" {
#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "catalog/namespace.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/guc.h"
#include "utils/inval.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"
}

namespace crosswalk::pg {
namespace {

// --- settings ---------------------------------------------------------------

int jwt_leeway_seconds = 30;
bool jwt_autolink = false;

// --- the current identity ---------------------------------------------------

// The identity, and for each authenticate() in a subtransaction the value it
// replaced, so that rolling the subtransaction back restores it. Plain data:
// the transaction callbacks below must not allocate or throw.
constexpr int kMaxIdentityDepth = 64;
struct IdentityState {
  bool set = false;
  CanonicalId id{};
};
struct SavedIdentity {
  SubTransactionId subxact;
  IdentityState previous;
};
IdentityState identity;
SavedIdentity saved[kMaxIdentityDepth];
int saved_count = 0;

void ClearIdentity() {
  identity = IdentityState{};
  saved_count = 0;
}

void SetIdentity(const CanonicalId& id) {
  SubTransactionId subxact = GetCurrentSubTransactionId();
  // Within one subtransaction only the first change needs remembering.
  if (saved_count == 0 || saved[saved_count - 1].subxact != subxact) {
    if (saved_count == kMaxIdentityDepth) {
      throw Error("54000", "authenticate() called in more than " + std::to_string(kMaxIdentityDepth) +
                               " nested subtransactions");
    }
    saved[saved_count++] = SavedIdentity{subxact, identity};
  }
  identity.set = true;
  identity.id = id;
}

void IdentityXactCallback(XactEvent event, void*) {
  switch (event) {
    case XACT_EVENT_COMMIT:
    case XACT_EVENT_PARALLEL_COMMIT:
    case XACT_EVENT_ABORT:
    case XACT_EVENT_PARALLEL_ABORT:
    case XACT_EVENT_PREPARE:
      ClearIdentity();
      break;
    default:
      break;
  }
}

void IdentitySubXactCallback(SubXactEvent event, SubTransactionId subxact, SubTransactionId parent, void*) {
  if (event == SUBXACT_EVENT_ABORT_SUB) {
    // Undo every change made in the aborted subtransaction (and in its
    // children, which were folded into it when they committed).
    while (saved_count > 0 && saved[saved_count - 1].subxact >= subxact) {
      identity = saved[--saved_count].previous;
    }
  } else if (event == SUBXACT_EVENT_COMMIT_SUB) {
    // The change now belongs to the parent; keep one entry per subxact.
    if (saved_count > 0 && saved[saved_count - 1].subxact == subxact) {
      if (saved_count > 1 && saved[saved_count - 2].subxact == parent) {
        --saved_count;  // the parent already remembers the older value
      } else {
        saved[saved_count - 1].subxact = parent;
      }
    }
  }
}

// --- platforms and their keys -------------------------------------------------

// A platform row as verification needs it, with its parsed keys.
struct Platform {
  int32 id = 0;
  std::string name;
  std::optional<std::string> issuer;
  std::optional<std::string> audience;
  std::shared_ptr<const JwkSet> keys;  // null when jwks is NULL or invalid
  std::string keys_error;              // why keys is null
};

struct PlatformCache {
  std::unordered_map<std::string, std::shared_ptr<const Platform>> by_name;
  std::unordered_map<std::string, std::shared_ptr<const Platform>> by_issuer;
};

// Replaced whole on invalidation (the callback only bumps the generation:
// it must not free memory a caller may be using).
std::unique_ptr<PlatformCache> cache;
uint64 cache_generation = 0;
uint64 cache_built_generation = 0;
Oid platform_relid = InvalidOid;

void PlatformRelcacheCallback(Datum, Oid relid) {
  if (relid == InvalidOid || relid == platform_relid) {
    ++cache_generation;
    platform_relid = InvalidOid;  // looked up again: the extension may have been re-created
  }
}

// A stored HMAC secret of a platform (crosswalk.platform_secret), wrapped.
struct SecretRow {
  char* kid;  // NULL when SQL NULL
  char* alg;  // NULL when SQL NULL
  bytea* wrapped;
};

// A platform row copied out of SPI into the caller's memory context.
struct PlatformRow {
  bool found;
  int32 id;
  char* name;
  char* issuer;    // NULL when SQL NULL
  char* audience;  // NULL when SQL NULL
  char* jwks;      // NULL when SQL NULL
  int nsecrets;
  SecretRow* secrets;
};

char* CopyColumn(MemoryContext cxt, HeapTuple tuple, TupleDesc desc, int column) {
  char* value = SPI_getvalue(tuple, desc, column);
  return value == nullptr ? nullptr : MemoryContextStrdup(cxt, value);
}

// The owner of crosswalk.platform (the role that created the extension):
// platform rows are read and accounts linked with its rights, as a SECURITY
// DEFINER function would, so that EXECUTE on authenticate() is all a caller
// needs.
Oid ExtensionOwner() {
  Oid nsp = get_namespace_oid("crosswalk", false);
  Oid relid = get_relname_relid("platform", nsp);
  if (!OidIsValid(relid)) {
    ereport(ERROR, (errcode(ERRCODE_UNDEFINED_TABLE), errmsg("crosswalk.platform does not exist")));
  }
  platform_relid = relid;
  HeapTuple tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
  if (!HeapTupleIsValid(tuple)) elog(ERROR, "cache lookup failed for relation %u", relid);
  Oid owner = reinterpret_cast<Form_pg_class>(GETSTRUCT(tuple))->relowner;
  ReleaseSysCache(tuple);
  return owner;
}

// Runs a query with one text argument as the extension owner. Plain C: it
// runs inside PgCall. On error the transaction (or subtransaction) abort
// restores the user and closes SPI.
void RunAsOwner(const char* query, int nargs, Oid* types, Datum* args, bool read_only, long limit = 1) {
  Oid owner = ExtensionOwner();
  Oid saved_user;
  int saved_context;
  GetUserIdAndSecContext(&saved_user, &saved_context);
  SetUserIdAndSecContext(owner, saved_context | SECURITY_LOCAL_USERID_CHANGE | SECURITY_RESTRICTED_OPERATION);
  int rc = SPI_execute_with_args(query, nargs, types, args, nullptr, read_only, limit);
  SetUserIdAndSecContext(saved_user, saved_context);
  if (rc < 0) elog(ERROR, "crosswalk: SPI_execute_with_args failed: %s", SPI_result_code_string(rc));
}

// Copies the platform's stored secrets into out (none when the extension's
// SQL predates crosswalk.platform_secret: a new library under an old
// schema). Plain C, connected to SPI.
void LoadSecretRows(MemoryContext cxt, PlatformRow* out) {
  Oid nsp = get_namespace_oid("crosswalk", false);
  if (!OidIsValid(get_relname_relid("platform_secret", nsp))) return;
  Oid types[1] = {INT4OID};
  Datum args[1] = {Int32GetDatum(out->id)};
  RunAsOwner(
      "SELECT s.kid, s.alg, s.wrapped FROM crosswalk.platform_secret s "
      "WHERE s.platform_id OPERATOR(pg_catalog.=) $1 ORDER BY s.kid NULLS FIRST",
      1, types, args, true, 0);
  out->nsecrets = static_cast<int>(SPI_processed);
  out->secrets = static_cast<SecretRow*>(MemoryContextAlloc(cxt, sizeof(SecretRow) * (SPI_processed + 1)));
  for (uint64 i = 0; i < SPI_processed; ++i) {
    HeapTuple tuple = SPI_tuptable->vals[i];
    TupleDesc desc = SPI_tuptable->tupdesc;
    out->secrets[i].kid = CopyColumn(cxt, tuple, desc, 1);
    out->secrets[i].alg = CopyColumn(cxt, tuple, desc, 2);
    bool isnull = false;
    bytea* wrapped = DatumGetByteaPP(SPI_getbinval(tuple, desc, 3, &isnull));
    bytea* copy = static_cast<bytea*>(MemoryContextAlloc(cxt, VARSIZE_ANY_EXHDR(wrapped) + VARHDRSZ));
    SET_VARSIZE(copy, VARSIZE_ANY_EXHDR(wrapped) + VARHDRSZ);
    memcpy(VARDATA(copy), VARDATA_ANY(wrapped), VARSIZE_ANY_EXHDR(wrapped));
    out->secrets[i].wrapped = copy;
  }
}

void LoadPlatformRow(bool by_issuer, const char* key, PlatformRow* out) {
  MemoryContext caller = CurrentMemoryContext;
  *out = PlatformRow{false, 0, nullptr, nullptr, nullptr, nullptr, 0, nullptr};
  SPI_connect();
  Oid types[1] = {TEXTOID};
  Datum args[1] = {CStringGetTextDatum(key)};
  RunAsOwner(by_issuer ? "SELECT platform_id, name, issuer, audience, jwks::text FROM crosswalk.platform "
                         "WHERE issuer OPERATOR(pg_catalog.=) $1"
                       : "SELECT platform_id, name, issuer, audience, jwks::text FROM crosswalk.platform "
                         "WHERE name OPERATOR(pg_catalog.=) $1",
             1, types, args, true);
  if (SPI_processed == 1) {
    HeapTuple tuple = SPI_tuptable->vals[0];
    TupleDesc desc = SPI_tuptable->tupdesc;
    bool isnull = false;
    out->found = true;
    out->id = DatumGetInt32(SPI_getbinval(tuple, desc, 1, &isnull));
    out->name = CopyColumn(caller, tuple, desc, 2);
    out->issuer = CopyColumn(caller, tuple, desc, 3);
    out->audience = CopyColumn(caller, tuple, desc, 4);
    out->jwks = CopyColumn(caller, tuple, desc, 5);
    LoadSecretRows(caller, out);
  }
  SPI_finish();
}

std::optional<std::string> TakeString(char* s) {
  if (s == nullptr) return std::nullopt;
  std::string out(s);
  pfree(s);
  return out;
}

// Unwraps the platform's stored HMAC secrets into keys. A secret that does
// not unwrap (another master key, a tampered row) or a missing master key is
// an error of its own (XX001, F0000), not a rejected token: it is the
// server's configuration that is wrong, and nothing is cached.
void AddStoredSecrets(int32 platform_id, const PlatformRow& row, JwkSet& keys) {
  if (row.nsecrets == 0) return;
  Aead& wrap = WrapCipher();
  for (int i = 0; i < row.nsecrets; ++i) {
    const SecretRow& r = row.secrets[i];
    std::optional<std::string> kid = r.kid ? std::optional<std::string>(r.kid) : std::nullopt;
    std::optional<std::string> alg = r.alg ? std::optional<std::string>(r.alg) : std::nullopt;
    ByteView wrapped(reinterpret_cast<const std::uint8_t*>(VARDATA(r.wrapped)), VARSIZE(r.wrapped) - VARHDRSZ);
    SecretBytes secret = UnwrapPlatformSecret(wrap, platform_id, kid, alg, wrapped);
    keys.AddSecret(kid, alg.value_or(""), SecretView(secret));
  }
}

// The last platform found, by what it was found by: a query verifying a
// column of tokens looks up the same platform for every row, and this
// answers without hashing the key or building a std::string of it. Valid
// while the cache generation it was found in is current.
struct LastLookup {
  bool by_issuer = false;
  uint64 generation = 0;
  std::string key;
  std::shared_ptr<const Platform> platform;
};
LastLookup last_lookup;

// The platform by name or issuer, from the cache or the table; nullptr when
// there is none.
std::shared_ptr<const Platform> FindPlatform(bool by_issuer, std::string_view key) {
  // Take pending invalidations first, so a change committed by another
  // session before this call is seen.
  PgCall([] { AcceptInvalidationMessages(); });
  if (last_lookup.platform && last_lookup.generation == cache_generation && last_lookup.by_issuer == by_issuer &&
      last_lookup.key == key) {
    return last_lookup.platform;
  }
  if (!cache || cache_built_generation != cache_generation) {
    cache = std::make_unique<PlatformCache>();
    cache_built_generation = cache_generation;
    last_lookup.platform.reset();
  }
  const std::string owned_key(key);
  auto remember = [&](const std::shared_ptr<const Platform>& platform) {
    last_lookup.by_issuer = by_issuer;
    last_lookup.generation = cache_generation;
    last_lookup.key = owned_key;
    last_lookup.platform = platform;
  };
  auto& index = by_issuer ? cache->by_issuer : cache->by_name;
  if (auto it = index.find(owned_key); it != index.end()) {
    remember(it->second);
    return it->second;
  }

  uint64 generation = cache_generation;
  PlatformRow row;
  PgCall([&] { LoadPlatformRow(by_issuer, owned_key.c_str(), &row); });
  if (!row.found) return nullptr;
  auto platform = std::make_shared<Platform>();
  platform->id = row.id;
  platform->name = *TakeString(row.name);
  platform->issuer = TakeString(row.issuer);
  platform->audience = TakeString(row.audience);
  std::optional<std::string> jwks = TakeString(row.jwks);
  if (!jwks && row.nsecrets == 0) {
    platform->keys_error = "platform \"" + platform->name + "\" has no jwks and no stored HMAC secret";
  } else {
    try {
      JwkSet keys = jwks ? ParseJwkSet(*jwks) : JwkSet();
      AddStoredSecrets(platform->id, row, keys);
      platform->keys = std::make_shared<const JwkSet>(std::move(keys));
    } catch (const JwtError&) {
      throw;
    } catch (const Error& e) {
      if (std::string_view(e.sqlstate()) != sqlstate::kInvalidParameterValue) throw;
      platform->keys_error = "platform \"" + platform->name + "\" has unusable keys: " + e.what();
    }
  }
  // Cache only if no invalidation arrived while the row was read: it might
  // be older than the change that sent it.
  if (generation == cache_generation && cache_built_generation == cache_generation) {
    cache->by_name[platform->name] = platform;
    if (platform->issuer) cache->by_issuer[*platform->issuer] = platform;
    remember(platform);
  }
  return platform;
}

// --- verification ---------------------------------------------------------------

struct VerifiedToken {
  std::shared_ptr<const Platform> platform;
  JwtClaims claims;
  std::string payload;
};

std::int64_t UnixNow() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// Verifies token against the named platform, or the one whose issuer the
// token names. *platform_id is set as soon as the platform is known (for the
// statistics of a failure).
VerifiedToken VerifyToken(std::string_view token, const std::optional<std::string>& platform_name, int32* platform_id) {
  VerifiedToken out;
  if (platform_name) {
    out.platform = FindPlatform(false, *platform_name);
    if (!out.platform) {
      throw Error("42704", "unknown platform \"" + *platform_name + "\"",
                  "Register it first with crosswalk.register_platform().");
    }
    *platform_id = out.platform->id;
  }
  Jws jws = ParseJws(token);
  out.claims = ParseClaims(jws.payload);
  if (!out.platform) {
    std::optional<std::string_view> iss = IssuerOf(out.claims);
    if (!iss) throw JwtError(JwtCheck::kIss, "the token has no \"iss\" string to find its platform by");
    out.platform = FindPlatform(true, *iss);
    if (!out.platform) {
      throw JwtError(JwtCheck::kPlatform, "no registered platform has issuer " + QuoteUntrusted(*iss, 64),
                     "Register the issuer with crosswalk.register_platform(name, issuer => ...).");
    }
    *platform_id = out.platform->id;
  }
  if (platform_name && out.platform->issuer && IssuerOf(out.claims) != std::string_view(*out.platform->issuer)) {
    // Said before the signature is checked: the token is for someone else.
    throw JwtError(JwtCheck::kIss, "the token's issuer is not platform \"" + out.platform->name + "\"'s issuer " +
                                       QuoteUntrusted(*out.platform->issuer, 64));
  }
  if (!out.platform->issuer) {
    throw JwtError(JwtCheck::kIss, "platform \"" + out.platform->name + "\" has no issuer registered",
                   "Set it with crosswalk.register_platform(name, issuer => ...).");
  }
  if (!out.platform->keys) throw JwtError(JwtCheck::kJwks, out.platform->keys_error);
  VerifyJwsSignature(jws, *out.platform->keys);
  ClaimsPolicy policy;
  policy.now = UnixNow();
  policy.leeway = jwt_leeway_seconds;
  policy.issuer = out.platform->issuer;
  policy.audience = out.platform->audience;
  CheckClaims(out.claims, policy);
  out.payload = std::move(jws.payload);
  return out;
}

// A rejection copied into plain buffers, so that it can be raised after
// every C++ object of the call is gone.
struct Rejection {
  bool rejected = false;
  char message[1024];
  char hint[512];
};

void CopyText(char* dst, std::size_t cap, const std::string& src) {
  std::size_t n = src.size() < cap - 1 ? src.size() : cap - 1;
  std::memcpy(dst, src.data(), n);
  dst[n] = '\0';
}

// Counts and logs a failed verification and fills the rejection buffers.
void RecordRejection(const JwtError& e, int32 platform_id, const std::shared_ptr<const Platform>& platform,
                     Rejection* out) {
  RecordAuthResult(platform_id, 1 + static_cast<int>(e.check()));
  std::string where = platform ? "platform \"" + platform->name + "\"" : std::string("no platform");
  std::string line = "crosswalk: JWT rejected for " + where + ": " + JwtCheckName(e.check()) + ": " + e.detail();
  // LOG without the statement: the statement may hold the token itself.
  PgCall([&] { ereport(LOG, (errmsg_internal("%s", line.c_str()), errhidestmt(true))); });
  out->rejected = true;
  CopyText(out->message, sizeof out->message, e.what());
  CopyText(out->hint, sizeof out->hint, e.hint());
}

// Raises a rejection: SQLSTATE 28000, and the statement (which may contain
// the token) is kept out of the server log.
[[noreturn]] void RaiseRejection(const Rejection& r) {
  ereport(ERROR, (errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION), errmsg_internal("%s", r.message),
                  r.hint[0] != '\0' ? errhint("%s", r.hint) : 0, errhidestmt(true)));
  pg_unreachable();
}

// The bytes of text argument n, detoasted; valid for the rest of the call.
std::string_view TextArgument(FunctionCallInfo fcinfo, int n) {
  text* t = reinterpret_cast<text*>(PgCall([&] { return PG_DETOAST_DATUM_PACKED(PG_GETARG_DATUM(n)); }));
  return std::string_view(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));
}

// Builds the jsonb of a parsed payload from its tape, without parsing the
// text a second time. Plain C over the tape: runs inside PgCall. The result
// is what jsonb_in gives for the same text (keys sorted and unique, numbers
// through numeric_in from their JSON text).
Datum BuildJsonb(const JsonToken* tokens, std::size_t ntokens, const char* text) {
  JsonbParseState* state = nullptr;
  JsonbValue* result = nullptr;
  // Whether each open container is an object (values are WJB_VALUE) or an
  // array (WJB_ELEM); depth is bounded by kMaxJoseJsonDepth.
  bool in_object[kMaxJoseJsonDepth + 1];
  int depth = 0;
  for (std::size_t i = 0; i < ntokens; ++i) {
    const JsonToken& t = tokens[i];
    JsonbValue v;
    JsonbIteratorToken scalar_token = depth > 0 && in_object[depth - 1] ? WJB_VALUE : WJB_ELEM;
    switch (t.kind) {
      case JsonToken::Kind::kBeginObject:
        result = pushJsonbValue(&state, WJB_BEGIN_OBJECT, nullptr);
        in_object[depth++] = true;
        continue;
      case JsonToken::Kind::kBeginArray:
        result = pushJsonbValue(&state, WJB_BEGIN_ARRAY, nullptr);
        in_object[depth++] = false;
        continue;
      case JsonToken::Kind::kEndObject:
        result = pushJsonbValue(&state, WJB_END_OBJECT, nullptr);
        --depth;
        continue;
      case JsonToken::Kind::kEndArray:
        result = pushJsonbValue(&state, WJB_END_ARRAY, nullptr);
        --depth;
        continue;
      case JsonToken::Kind::kKey:
        v.type = jbvString;
        v.val.string.val = const_cast<char*>(text + t.offset);
        v.val.string.len = static_cast<int>(t.length);
        result = pushJsonbValue(&state, WJB_KEY, &v);
        continue;
      case JsonToken::Kind::kString:
        v.type = jbvString;
        v.val.string.val = const_cast<char*>(text + t.offset);
        v.val.string.len = static_cast<int>(t.length);
        break;
      case JsonToken::Kind::kNumber: {
        char* number = pnstrdup(text + t.offset, t.length);
        v.type = jbvNumeric;
        v.val.numeric = DatumGetNumeric(
            DirectFunctionCall3(numeric_in, CStringGetDatum(number), ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1)));
        pfree(number);
        break;
      }
      case JsonToken::Kind::kTrue:
      case JsonToken::Kind::kFalse:
        v.type = jbvBool;
        v.val.boolean = t.kind == JsonToken::Kind::kTrue;
        break;
      case JsonToken::Kind::kNull:
        v.type = jbvNull;
        break;
    }
    result = pushJsonbValue(&state, scalar_token, &v);
  }
  return JsonbPGetDatum(JsonbValueToJsonb(result));
}

Datum JsonbFromPayload(const std::string& payload) {
  return PgCall([&] {
    char* utf8 = pnstrdup(payload.data(), payload.size());
    char* local = GetDatabaseEncoding() == PG_UTF8
                      ? utf8
                      : static_cast<char*>(pg_any_to_server(utf8, static_cast<int>(payload.size()), PG_UTF8));
    return DirectFunctionCall1(jsonb_in, CStringGetDatum(local));
  });
}

// The claims as jsonb. In a UTF-8 database built from the tape; otherwise
// the payload goes through jsonb_in after conversion to the server encoding.
Datum ClaimsJsonb(const JwtClaims& claims, const std::string& payload) {
  if (GetDatabaseEncoding() == PG_UTF8) {
    const JsonTape& tape = claims.tape;
    // jsonb cannot hold U+0000; jsonb_in refuses it with this error.
    if (tape.text().find('\0') != std::string::npos) {
      throw Error("22P05", "unsupported Unicode escape sequence: \\u0000 cannot be converted to text");
    }
    return PgCall([&] { return BuildJsonb(tape.tokens().data(), tape.tokens().size(), tape.text().data()); });
  }
  return JsonbFromPayload(payload);
}

// verify_jwt's body: the claims as jsonb, or a filled rejection.
Datum VerifyJwtBody(FunctionCallInfo fcinfo, Rejection* rejection) {
  std::string_view token = TextArgument(fcinfo, 0);
  std::optional<std::string> platform_name;
  if (!PG_ARGISNULL(1)) platform_name.emplace(TextArgument(fcinfo, 1));
  int32 platform_id = 0;
  std::shared_ptr<const Platform> platform;
  try {
    VerifiedToken verified = VerifyToken(token, platform_name, &platform_id);
    RecordAuthResult(platform_id, 0);
    return ClaimsJsonb(verified.claims, verified.payload);
  } catch (const JwtError& e) {
    if (platform_id != 0 && cache) {
      for (const auto& [name, p] : cache->by_name) {
        if (p->id == platform_id) platform = p;
      }
    }
    RecordRejection(e, platform_id, platform, rejection);
    return static_cast<Datum>(0);
  }
}

// Looks up the person linked to (platform_id, local_id), linking a new one
// when autolink is on. Plain C, run inside PgCall; *found false when none.
void ResolveAccount(int32 platform_id, const char* platform_name, const char* local_id, bool autolink,
                    CanonicalId* person, bool* found) {
  *found = false;
  SPI_connect();
  Oid types[2] = {INT4OID, TEXTOID};
  Datum args[2] = {Int32GetDatum(platform_id), CStringGetTextDatum(local_id)};
  RunAsOwner(
      "SELECT person FROM crosswalk.account WHERE platform_id OPERATOR(pg_catalog.=) $1 "
      "AND local_id OPERATOR(pg_catalog.=) $2",
      2, types, args, true);
  if (SPI_processed == 0 && autolink) {
    Oid link_types[2] = {TEXTOID, TEXTOID};
    Datum link_args[2] = {CStringGetTextDatum(platform_name), CStringGetTextDatum(local_id)};
    RunAsOwner("SELECT crosswalk.link($1, $2)", 2, link_types, link_args, false);
  }
  if (SPI_processed == 1) {
    bool isnull = false;
    Datum d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
    if (!isnull) {
      std::memcpy(person->data(), DatumGetPointer(d), kCanonicalIdSize);
      *found = true;
    }
  }
  SPI_finish();
}

Datum AuthenticateBody(FunctionCallInfo fcinfo, Rejection* rejection) {
  std::string_view token = TextArgument(fcinfo, 0);
  int32 platform_id = 0;
  std::shared_ptr<const Platform> platform;
  try {
    VerifiedToken verified = VerifyToken(token, std::nullopt, &platform_id);
    platform = verified.platform;
    std::string sub = SubjectOf(verified.claims);
    CanonicalId person{};
    bool found = false;
    bool autolink = jwt_autolink;
    PgCall([&] { ResolveAccount(platform->id, platform->name.c_str(), sub.c_str(), autolink, &person, &found); });
    if (!found) {
      throw JwtError(
          JwtCheck::kAccount,
          "account " + QuoteUntrusted(sub, 64) + " of platform \"" + platform->name + "\" is not linked to a person",
          "Link it with crosswalk.link('" + platform->name +
              "', local_id), or let tokens link new accounts with crosswalk.jwt_autolink = on.");
    }
    SetIdentity(person);
    RecordAuthResult(platform_id, 0);
    auto* out = static_cast<CanonicalId*>(PgAlloc(sizeof(CanonicalId)));
    std::memcpy(out->data(), person.data(), person.size());
    return PointerGetDatum(out);
  } catch (const JwtError& e) {
    if (!platform && platform_id != 0 && cache) {
      for (const auto& [name, p] : cache->by_name) {
        if (p->id == platform_id) platform = p;
      }
    }
    RecordRejection(e, platform_id, platform, rejection);
    return static_cast<Datum>(0);
  }
}

}  // namespace

// Defines the GUCs and installs the callbacks and shared-memory hooks.
void InitSingleSignOn() {
  DefineCustomIntVariable("crosswalk.jwt_leeway",
                          "Seconds of clock skew tolerated when checking a token's exp, nbf and iat.", nullptr,
                          &jwt_leeway_seconds, 30, 0, 3600, PGC_SUSET, GUC_UNIT_S, nullptr, nullptr, nullptr);
  DefineCustomBoolVariable("crosswalk.jwt_autolink",
                           "Lets authenticate() link an unknown account of a registered platform to a new person.",
                           nullptr, &jwt_autolink, false, PGC_SUSET, 0, nullptr, nullptr, nullptr);
  RegisterXactCallback(IdentityXactCallback, nullptr);
  RegisterSubXactCallback(IdentitySubXactCallback, nullptr);
  CacheRegisterRelcacheCallback(PlatformRelcacheCallback, static_cast<Datum>(0));
  InitAuthStats();
}

}  // namespace crosswalk::pg

extern "C" void crosswalk_init_single_sign_on(void) { crosswalk::pg::InitSingleSignOn(); }

using crosswalk::pg::Rejection;

// crosswalk.verify_jwt(token text, platform text DEFAULT NULL) -> jsonb
CROSSWALK_FUNCTION(verify_jwt) {
  if (PG_ARGISNULL(0)) PG_RETURN_NULL();
  Rejection rejection;
  Datum result = crosswalk::pg::VerifyJwtBody(fcinfo, &rejection);
  if (rejection.rejected) crosswalk::pg::RaiseRejection(rejection);
  return result;
}

// crosswalk.authenticate(token text) -> canonical_id
CROSSWALK_FUNCTION(authenticate) {
  if (PG_ARGISNULL(0)) {
    throw crosswalk::Error("22004", "authenticate() needs a token, not NULL");
  }
  Rejection rejection;
  Datum result = crosswalk::pg::AuthenticateBody(fcinfo, &rejection);
  if (rejection.rejected) crosswalk::pg::RaiseRejection(rejection);
  return result;
}

// crosswalk.current_identity() -> canonical_id, NULL outside an
// authenticated transaction.
CROSSWALK_FUNCTION(current_identity) {
  if (!crosswalk::pg::identity.set) PG_RETURN_NULL();
  auto* out = static_cast<crosswalk::CanonicalId*>(crosswalk::pg::PgAlloc(sizeof(crosswalk::CanonicalId)));
  *out = crosswalk::pg::identity.id;
  return PointerGetDatum(out);
}

// Trigger on crosswalk.platform and crosswalk.platform_secret: tells every
// backend to drop its cached keys (a relcache invalidation of
// crosswalk.platform, whichever of the two changed).
CROSSWALK_FUNCTION(platform_changed) {
  if (!CALLED_AS_TRIGGER(fcinfo)) {
    throw crosswalk::Error("39P01", "crosswalk._platform_changed() is a trigger function");
  }
  Relation rel = reinterpret_cast<TriggerData*>(fcinfo->context)->tg_relation;
  crosswalk::pg::PgCall([&] {
    Oid platform = get_relname_relid("platform", RelationGetNamespace(rel));
    CacheInvalidateRelcacheByRelid(OidIsValid(platform) ? platform : RelationGetRelid(rel));
  });
  return PointerGetDatum(nullptr);
}

// crosswalk._jwks_valid(jwks jsonb) -> true, or the parse error (22023):
// the CHECK constraint that refuses an unusable JWKS when it is registered.
CROSSWALK_FUNCTION(jwks_valid) {
  if (PG_ARGISNULL(0)) PG_RETURN_BOOL(true);
  char* text = static_cast<char*>(crosswalk::pg::PgCall(
      [&] { return static_cast<void*>(JsonbToCString(nullptr, &PG_GETARG_JSONB_P(0)->root, 0)); }));
  crosswalk::ParseJwkSet(text);  // throws when unusable
  PG_RETURN_BOOL(true);
}
