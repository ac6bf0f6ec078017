// Signed ledger checkpoints: Ed25519 keys whose private half is stored only
// wrapped by the master-derived key (lib/signing.cpp), and the signing and
// verification of a ledger tip.
#include "datum.hpp"
#include "guard.hpp"
#include "keyring.hpp"
#include "signing.hpp"

namespace {

using crosswalk::pg::ArgBytes;
using crosswalk::pg::ArgText;
using crosswalk::pg::ReturnVarlena;

}  // namespace

// _new_signing_key(name text) → bytea: a fresh Ed25519 seed, wrapped.
CROSSWALK_FUNCTION(new_signing_key) {
  std::string_view name = ArgText(fcinfo, 0);
  crosswalk::SecretBytes seed = crosswalk::NewEd25519Seed();
  return ReturnVarlena(crosswalk::WrapSigningSeed(crosswalk::pg::WrapCipher(), name, seed.view()));
}

// _signing_public_key(name text, wrapped bytea) → bytea
CROSSWALK_FUNCTION(signing_public_key) {
  crosswalk::SecretBytes seed =
      crosswalk::UnwrapSigningSeed(crosswalk::pg::WrapCipher(), ArgText(fcinfo, 0), ArgBytes(fcinfo, 1));
  return ReturnVarlena(crosswalk::Ed25519PublicKeyOf(seed.view()));
}

// _sign_checkpoint(name text, wrapped bytea, seq bigint, tip_hash bytea) → bytea
CROSSWALK_FUNCTION(sign_checkpoint) {
  crosswalk::SecretBytes seed =
      crosswalk::UnwrapSigningSeed(crosswalk::pg::WrapCipher(), ArgText(fcinfo, 0), ArgBytes(fcinfo, 1));
  const auto message = crosswalk::CheckpointMessage(PG_GETARG_INT64(2), ArgBytes(fcinfo, 3));
  return ReturnVarlena(crosswalk::Ed25519Sign(seed.view(), message));
}

// verify_checkpoint_signature(seq bigint, tip_hash bytea, signature bytea, public_key bytea) → boolean
CROSSWALK_FUNCTION(verify_checkpoint_signature) {
  crosswalk::ByteView tip_hash = ArgBytes(fcinfo, 1);
  if (tip_hash.size != 32) {
    throw crosswalk::Error(crosswalk::sqlstate::kInvalidParameterValue,
                           "tip_hash must be 32 bytes, got " + std::to_string(tip_hash.size));
  }
  const auto message = crosswalk::CheckpointMessage(PG_GETARG_INT64(0), tip_hash);
  PG_RETURN_BOOL(crosswalk::Ed25519Verify(ArgBytes(fcinfo, 3), message, ArgBytes(fcinfo, 2)));
}
