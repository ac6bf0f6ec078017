// The SQL functions of encrypted columns: encrypt, decrypt, decrypt_bytea,
// reencrypt, blind_index, match_key, and the internal helpers the key
// management functions (crosswalk--0.2.0--0.3.0.sql) call.
#include "guard.hpp"

#include <cstring>

#include "canonical_id.hpp"
#include "envelope.hpp"
#include "key_wrap.hpp"
#include "keyring.hpp"
#include "match_key.hpp"

extern "C" {
#include "access/detoast.h"
#include "mb/pg_wchar.h"
#include "utils/uuid.h"
}

namespace {

using crosswalk::ByteView;
using crosswalk::Error;
using crosswalk::pg::PgAlloc;
using crosswalk::pg::PgCall;

// The largest value PostgreSQL can hold (MaxAllocSize), and so the largest
// plaintext an envelope can carry; see MaxPlaintextSize in lib/envelope.hpp.
static_assert(crosswalk::kMaxValueSize == MaxAllocSize, "lib's value limit must be PostgreSQL's");

// The argument as bytes. Only a compressed or out-of-line value needs
// detoasting (which can ereport: through PgCall); the common short inline
// value is read in place, as PG_DETOAST_DATUM_PACKED would.
ByteView ArgBytes(FunctionCallInfo fcinfo, int n) {
  struct varlena* v = reinterpret_cast<struct varlena*>(DatumGetPointer(PG_GETARG_DATUM(n)));
  if (VARATT_IS_EXTERNAL(v) || VARATT_IS_COMPRESSED(v)) v = PgCall([&] { return detoast_attr(v); });
  return ByteView(reinterpret_cast<const std::uint8_t*>(VARDATA_ANY(v)), VARSIZE_ANY_EXHDR(v));
}

// A new varlena of VARHDRSZ + size bytes in the current memory context.
// size is at most MaxAllocSize - VARHDRSZ (the callers' values are checked
// against kMaxValueSize), so palloc_extended can fail only for lack of
// memory, which it reports by returning NULL: no PgCall needed per row.
struct varlena* NewVarlena(std::size_t size) {
  if (size > MaxAllocSize - VARHDRSZ) throw std::bad_alloc();
  auto* out = static_cast<struct varlena*>(palloc_extended(VARHDRSZ + size, MCXT_ALLOC_NO_OOM));
  if (out == nullptr) throw std::bad_alloc();
  SET_VARSIZE(out, VARHDRSZ + size);
  return out;
}

std::string_view ArgText(FunctionCallInfo fcinfo, int n) {
  ByteView b = ArgBytes(fcinfo, n);
  return std::string_view(reinterpret_cast<const char*>(b.data), b.size);
}

crosswalk::Envelope DecodeStored(ByteView bytes) {
  crosswalk::Envelope e;
  if (const char* why = crosswalk::DecodeEnvelope(bytes, &e)) {
    throw Error(crosswalk::sqlstate::kDataCorrupted, std::string("stored encrypted value is corrupt: ") + why);
  }
  return e;
}

// Encrypts plaintext under the key's newest version (whose cipher is
// cipher) into a new varlena.
Datum Seal(crosswalk::pg::CachedKey& key, crosswalk::Aead& cipher, ByteView context, ByteView plaintext) {
  crosswalk::RequireValueFits(key.algorithm, plaintext.size);
  const std::size_t size = *crosswalk::EnvelopeSize(key.algorithm, plaintext.size);
  struct varlena* out = NewVarlena(size);
  crosswalk::EnvelopeHeader header;
  header.algorithm = key.algorithm;
  header.key_id = key.id;
  header.key_version = key.current_version;
  crosswalk::EncodeEnvelope(cipher, header, context, plaintext, reinterpret_cast<std::uint8_t*>(VARDATA(out)));
  return PointerGetDatum(out);
}

Datum Encrypt(FunctionCallInfo fcinfo) {
  crosswalk::pg::RequirePlaintextNotLogged("encrypt");
  ByteView plaintext = ArgBytes(fcinfo, 0);
  std::string_view key_name = ArgText(fcinfo, 1);
  ByteView context = ArgBytes(fcinfo, 2);
  crosswalk::pg::CachedKey* key = nullptr;
  crosswalk::Aead& cipher = crosswalk::pg::EncryptionCipher(crosswalk::pg::CallSiteKeyOf(fcinfo), key_name, &key);
  return Seal(*key, cipher, context, plaintext);
}

[[noreturn]] void ThrowNotAuthentic(const crosswalk::pg::CachedKey& key, std::uint32_t version) {
  throw Error(crosswalk::sqlstate::kDataException,
              "could not decrypt: the value does not authenticate under key \"" + key.name + "\" version " +
                  std::to_string(version) + " with this context",
              "The context must be the one given to encrypt(); a value copied from another row or column, or "
              "changed in any way, does not decrypt.");
}

// Authenticates and decrypts the value into a new varlena (text or bytea).
struct varlena* Open(FunctionCallInfo fcinfo) {
  ByteView bytes = ArgBytes(fcinfo, 0);
  ByteView context = ArgBytes(fcinfo, 1);
  crosswalk::Envelope e = DecodeStored(bytes);
  crosswalk::pg::CachedKey* key = nullptr;
  crosswalk::Aead& aead = crosswalk::pg::DecryptionCipher(crosswalk::pg::CallSiteKeyOf(fcinfo), e.header.key_id,
                                                          e.header.key_version, &key);
  struct varlena* out = NewVarlena(e.ciphertext.size);
  if (!crosswalk::OpenEnvelope(aead, e, context, reinterpret_cast<std::uint8_t*>(VARDATA(out)))) {
    ThrowNotAuthentic(*key, e.header.key_version);
  }
  return out;
}

}  // namespace

CROSSWALK_FUNCTION(encrypt_text) { return Encrypt(fcinfo); }
CROSSWALK_FUNCTION(encrypt_bytea) { return Encrypt(fcinfo); }

CROSSWALK_FUNCTION(decrypt_text) {
  struct varlena* out = Open(fcinfo);
  const char* data = VARDATA(out);
  const int len = static_cast<int>(VARSIZE(out) - VARHDRSZ);
  // noError = true: pg_verifymbstr reports by its result, never by ereport.
  if (!pg_verifymbstr(data, len, true)) {
    std::memset(VARDATA(out), 0, static_cast<std::size_t>(len));
    throw Error("22021", "the decrypted value is not valid text in the database encoding",
                "It was encrypted from bytea: use crosswalk.decrypt_bytea().");
  }
  PG_RETURN_TEXT_P(reinterpret_cast<text*>(out));
}

CROSSWALK_FUNCTION(decrypt_bytea) { PG_RETURN_BYTEA_P(reinterpret_cast<bytea*>(Open(fcinfo))); }

// Re-encrypts a value under its key's newest version; a value already there
// is returned unchanged, so a batch can be re-run.
CROSSWALK_FUNCTION(reencrypt) {
  ByteView bytes = ArgBytes(fcinfo, 0);
  ByteView context = ArgBytes(fcinfo, 1);
  crosswalk::Envelope e = DecodeStored(bytes);
  crosswalk::pg::CachedKey* key_ptr = nullptr;
  crosswalk::Aead& old_aead = crosswalk::pg::DecryptionCipher(crosswalk::pg::CallSiteKeyOf(fcinfo), e.header.key_id,
                                                              e.header.key_version, &key_ptr);
  crosswalk::pg::CachedKey& key = *key_ptr;
  if (e.header.key_version == key.current_version) return PG_GETARG_DATUM(0);
  const std::size_t n = e.ciphertext.size;
  auto* plain = static_cast<std::uint8_t*>(PgAlloc(n + 1));
  if (!crosswalk::OpenEnvelope(old_aead, e, context, plain)) ThrowNotAuthentic(key, e.header.key_version);
  struct Wipe {
    std::uint8_t* p;
    std::size_t n;
    ~Wipe() { std::memset(p, 0, n); }  // the plaintext never outlives this call in memory
  } wipe{plain, n};
  return Seal(key, crosswalk::pg::VersionCipher(key, key.current_version), context, ByteView(plain, n));
}

CROSSWALK_FUNCTION(blind_index) {
  crosswalk::pg::RequirePlaintextNotLogged("blind_index");
  ByteView value = ArgBytes(fcinfo, 0);
  std::string_view key_name = ArgText(fcinfo, 1);
  crosswalk::pg::CachedKey& key = crosswalk::pg::KeyByName(key_name);
  crosswalk::pg::RequireKeyUse(key);
  crosswalk::Hmac& hmac = crosswalk::pg::BlindIndexHmac(key);
  auto* out = static_cast<bytea*>(PgAlloc(VARHDRSZ + hmac.size()));
  SET_VARSIZE(out, VARHDRSZ + hmac.size());
  hmac.Compute({value}, reinterpret_cast<std::uint8_t*>(VARDATA(out)));
  PG_RETURN_BYTEA_P(out);
}

CROSSWALK_FUNCTION(match_key) {
  crosswalk::pg::RequirePlaintextNotLogged("match_key");
  std::string_view value = ArgText(fcinfo, 0);
  std::string_view kind = ArgText(fcinfo, 1);
  std::string normalized = crosswalk::NormalizeForMatch(kind, value);
  auto* out = static_cast<bytea*>(PgAlloc(VARHDRSZ + crosswalk::kMatchKeySize));
  SET_VARSIZE(out, VARHDRSZ + crosswalk::kMatchKeySize);
  crosswalk::ComputeMatchKey(crosswalk::pg::MatchKeyHmac(), kind, normalized,
                             reinterpret_cast<std::uint8_t*>(VARDATA(out)));
  std::memset(normalized.data(), 0, normalized.size());
  PG_RETURN_BYTEA_P(out);
}

// _new_wrapped_key(key_id uuid, version integer, algorithm text) -> bytea: a
// fresh random data key, wrapped by the master key; the raw key never leaves
// this function.
CROSSWALK_FUNCTION(new_wrapped_key) {
  const pg_uuid_t* uuid = PG_GETARG_UUID_P(0);
  const int32 version = PG_GETARG_INT32(1);
  std::string_view alg_name = ArgText(fcinfo, 2);
  auto alg = crosswalk::ParseAlgorithm(alg_name);
  if (!alg) {
    throw Error(crosswalk::sqlstate::kInvalidParameterValue,
                "unknown algorithm " + crosswalk::QuoteForMessage(alg_name),
                "The algorithms are 'aes-256-gcm' (randomized) and 'aes-256-siv' (deterministic).");
  }
  if (version < 1) throw Error(crosswalk::sqlstate::kInvalidParameterValue, "key versions start at 1");
  crosswalk::KeyId id;
  std::memcpy(id.data(), uuid->data, id.size());
  crosswalk::SecretBytes data_key = crosswalk::NewDataKey(*alg);
  auto wrapped = crosswalk::WrapDataKey(crosswalk::pg::WrapCipher(), id, static_cast<std::uint32_t>(version), *alg,
                                        data_key.view());
  auto* out = static_cast<bytea*>(PgAlloc(VARHDRSZ + wrapped.size()));
  SET_VARSIZE(out, VARHDRSZ + wrapped.size());
  std::memcpy(VARDATA(out), wrapped.data(), wrapped.size());
  PG_RETURN_BYTEA_P(out);
}

// _key_changed(): this backend changed a key; cached keys re-validate.
CROSSWALK_FUNCTION(key_changed) {
  crosswalk::pg::InvalidateKeyCache();
  PG_RETURN_VOID();
}
