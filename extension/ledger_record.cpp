// crosswalk.record(kind, person, platform, payload) → seq: checks an entry,
// chains it and inserts it in one call. Everything that does not depend on
// the tip (the lookups, the payload's checks, its canonical encoding, the
// executor state for the insert) happens before the chain lock is taken:
// appends are serialized from that lock to the end of the transaction, so
// the work under it is what bounds concurrent appends.
#include <algorithm>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

#include "canonical_id.hpp"
#include "ledger.hpp"

#include "datum.hpp"
#include "guard.hpp"
#include "ledger_chain.hpp"

extern "C" {
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/executor.h"
#include "executor/spi.h"
#include "mb/pg_wchar.h"
#include "nodes/makefuncs.h"
#include "utils/syscache.h"

// The input function of crosswalk.encrypted (encrypted.cpp).
Datum encrypted_in(PG_FUNCTION_ARGS);
}

namespace ledger = crosswalk::pg::ledger;
using crosswalk::Error;
using crosswalk::pg::PgCall;

namespace {

constexpr const char* kNullValueNotAllowed = "22004";
constexpr const char* kUndefinedObject = "42704";

// What record() looks up before appending, in one statement.
struct Lookups {
  bool kind_known = false;
  bool platform_known = false;
  std::optional<crosswalk::CanonicalId> live;  // the person, or whom it was merged into
  bool from_known = true;                      // transfers: both platforms registered
  bool to_known = true;
};

// The lookups' plan, kept for the backend's life (re-prepared if the
// extension was re-created with another canonical_id type).
SPIPlanPtr lookup_plan = nullptr;
Oid lookup_plan_person_type = InvalidOid;

Lookups LookUp(Datum kind, Datum platform, Datum person, std::optional<std::string_view> from,
               std::optional<std::string_view> to) {
  Lookups out;
  Datum from_datum = from ? crosswalk::pg::ReturnVarlena(
                                crosswalk::ByteView(reinterpret_cast<const std::uint8_t*>(from->data()), from->size()))
                          : 0;
  Datum to_datum = to ? crosswalk::pg::ReturnVarlena(
                            crosswalk::ByteView(reinterpret_cast<const std::uint8_t*>(to->data()), to->size()))
                      : 0;
  bool found_live = false;
  std::uint8_t live[crosswalk::kCanonicalIdSize];
  PgCall([&] {
    Oid schema = get_namespace_oid("crosswalk", false);
    Oid person_type =
        GetSysCacheOid2(TYPENAMENSP, Anum_pg_type_oid, CStringGetDatum("canonical_id"), ObjectIdGetDatum(schema));
    if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "crosswalk: SPI_connect failed");
    if (lookup_plan == nullptr || lookup_plan_person_type != person_type) {
      Oid types[5] = {TEXTOID, TEXTOID, person_type, TEXTOID, TEXTOID};
      SPIPlanPtr p = SPI_prepare(
          "SELECT EXISTS (SELECT FROM crosswalk.ledger_kind k WHERE k.kind OPERATOR(pg_catalog.=) $1),"
          "       EXISTS (SELECT FROM crosswalk.platform p WHERE p.name OPERATOR(pg_catalog.=) $2),"
          "       (SELECT coalesce(x.merged_into, x.person) FROM crosswalk.person x"
          "         WHERE x.person OPERATOR(pg_catalog.=) $3),"
          "       $4 IS NULL OR EXISTS (SELECT FROM crosswalk.platform p WHERE p.name OPERATOR(pg_catalog.=) $4),"
          "       $5 IS NULL OR EXISTS (SELECT FROM crosswalk.platform p WHERE p.name OPERATOR(pg_catalog.=) $5)",
          5, types);
      if (p == nullptr || SPI_keepplan(p) != 0) elog(ERROR, "crosswalk: could not prepare record()'s lookups");
      if (lookup_plan != nullptr) SPI_freeplan(lookup_plan);
      lookup_plan = p;
      lookup_plan_person_type = person_type;
    }
    Datum args[5] = {kind, platform, person, from_datum, to_datum};
    const char nulls[6] = {' ', ' ', ' ', from_datum == 0 ? 'n' : ' ', to_datum == 0 ? 'n' : ' ', '\0'};
    // Not read-only: like a statement of a volatile function, it sees what
    // this transaction did so far (a person linked in the same statement).
    if (SPI_execute_plan(lookup_plan, args, nulls, false, 1) != SPI_OK_SELECT || SPI_processed != 1) {
      elog(ERROR, "crosswalk: record()'s lookups failed");
    }
    HeapTuple row = SPI_tuptable->vals[0];
    TupleDesc desc = SPI_tuptable->tupdesc;
    bool isnull = false;
    out.kind_known = DatumGetBool(SPI_getbinval(row, desc, 1, &isnull));
    out.platform_known = DatumGetBool(SPI_getbinval(row, desc, 2, &isnull));
    Datum l = SPI_getbinval(row, desc, 3, &isnull);
    if (!isnull) {
      std::memcpy(live, DatumGetPointer(l), sizeof live);
      found_live = true;
    }
    out.from_known = DatumGetBool(SPI_getbinval(row, desc, 4, &isnull));
    out.to_known = DatumGetBool(SPI_getbinval(row, desc, 5, &isnull));
    SPI_finish();
  });
  if (found_live) {
    out.live.emplace();
    std::memcpy(out.live->data(), live, sizeof live);
  }
  return out;
}

// payload -> key, without allocating; nullopt when absent.
std::optional<JsonbValue> Member(const Jsonb* payload, std::string_view key) {
  JsonbValue v;
  JsonbValue* found = PgCall([&] {
    return getKeyJsonValueFromContainer(const_cast<JsonbContainer*>(&payload->root), key.data(),
                                        static_cast<int>(key.size()), &v);
  });
  if (found == nullptr) return std::nullopt;
  return v;
}

std::optional<std::string_view> StringMember(const Jsonb* payload, std::string_view key) {
  auto v = Member(payload, key);
  if (!v || v->type != jbvString) return std::nullopt;
  return std::string_view(v->val.string.val, static_cast<std::size_t>(v->val.string.len));
}

// payload ->> key for a string or a number, as SQL's ->> gives it.
std::optional<std::string> ScalarText(const JsonbValue& v) {
  if (v.type == jbvString) return std::string(v.val.string.val, static_cast<std::size_t>(v.val.string.len));
  if (v.type != jbvNumeric) return std::nullopt;
  Numeric n = v.val.numeric;
  char* text = PgCall([&] { return DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(n))); });
  std::string out(text);
  pfree(text);
  return out;
}

// ^[0-9]+(\.[0-9]+)?$
bool IsDecimal(std::string_view s) {
  auto digits = [](std::string_view t) {
    if (t.empty()) return false;
    for (char c : t) {
      if (c < '0' || c > '9') return false;
    }
    return true;
  };
  const auto dot = s.find('.');
  if (dot == std::string_view::npos) return digits(s);
  return digits(s.substr(0, dot)) && digits(s.substr(dot + 1));
}

// ^[A-Z]{3}$
bool IsCurrencyCode(std::string_view s) {
  return s.size() == 3 && std::all_of(s.begin(), s.end(), [](char c) { return c >= 'A' && c <= 'Z'; });
}

// What record() demands of the payload beyond the chain's own checks.
void CheckPayloadForKind(std::string_view kind, const Jsonb* payload, const Lookups& found,
                         std::optional<std::string_view> from, std::optional<std::string_view> to) {
  if (!JB_ROOT_IS_OBJECT(payload) || JB_ROOT_IS_SCALAR(payload)) {
    std::string type = "array";
    if (JB_ROOT_IS_SCALAR(payload)) {
      JsonbValue v;
      type = PgCall([&] {
        JsonbExtractScalar(const_cast<JsonbContainer*>(&payload->root), &v);
        return JsonbTypeName(&v);
      });
    }
    throw Error(crosswalk::sqlstate::kInvalidParameterValue, "a ledger payload must be a JSON object, not " + type);
  }
  if (kind == "purchase" || kind == "refund") {
    const auto amount = Member(payload, "amount");
    const auto amount_text = amount ? ScalarText(*amount) : std::nullopt;
    const auto currency = StringMember(payload, "currency");
    if (!StringMember(payload, "product") || !currency || !IsCurrencyCode(*currency) || !amount_text ||
        !IsDecimal(*amount_text)) {
      throw Error(crosswalk::sqlstate::kInvalidParameterValue,
                  "a " + std::string(kind) +
                      " payload needs \"product\" (string), \"amount\" (a non-negative decimal) and \"currency\" "
                      "(ISO 4217 code)",
                  "For example {\"product\": \"sql-101\", \"amount\": \"19.99\", \"currency\": \"EUR\"}; give amounts "
                  "as strings to keep every digit.");
    }
  } else if (kind == "transfer") {
    if (!StringMember(payload, "product") || !from || !to) {
      throw Error(crosswalk::sqlstate::kInvalidParameterValue,
                  "a transfer payload needs \"product\", \"from_platform\" and \"to_platform\" (strings)");
    }
    for (const auto& [name, known] : {std::pair{*from, found.from_known}, std::pair{*to, found.to_known}}) {
      if (!known) {
        throw Error(kUndefinedObject, "unknown platform \"" + std::string(name) + "\"",
                    "Register it first with crosswalk.register_platform().");
      }
    }
  }
  // A payment reference identifies a payment at a processor: it travels
  // with the ledger to every peer, so it is kept only as ciphertext.
  if (auto reference = Member(payload, "reference")) {
    if (reference->type != jbvString || reference->val.string.len < 4 ||
        std::memcmp(reference->val.string.val, "cw1:", 4) != 0) {
      throw Error(crosswalk::sqlstate::kInvalidParameterValue, "a payment reference must be stored encrypted",
                  "Pass crosswalk.encrypt(reference, key_name, 'ledger:reference')::text as \"reference\".");
    }
    const std::string text(reference->val.string.val, static_cast<std::size_t>(reference->val.string.len));
    const char* cstr = text.c_str();
    PgCall([&] {  // its structure, or 22P02
      (void)DirectFunctionCall3(encrypted_in, CStringGetDatum(cstr), ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1));
    });
  }
}

// The first 100 characters of s (as SQL's left(s, 100)), for messages.
std::string Left100(std::string_view s) {
  const int n = PgCall([&] { return pg_mbcharcliplen(s.data(), static_cast<int>(s.size()), 100); });
  return std::string(s.substr(0, static_cast<std::size_t>(n)));
}

// An executor state for inserting into the ledger as a statement would
// (constraints, indexes, triggers), set up as logical replication's apply
// worker does for ExecSimpleRelationInsert.
struct Inserter {
  EState* estate = nullptr;
  ResultRelInfo* rri = nullptr;
  TupleTableSlot* slot = nullptr;

  void Begin(Relation ledger) {
    PgCall([&] {
      estate = CreateExecutorState();
      RangeTblEntry* rte = makeNode(RangeTblEntry);
      rte->rtekind = RTE_RELATION;
      rte->relid = RelationGetRelid(ledger);
      rte->relkind = ledger->rd_rel->relkind;
      rte->rellockmode = RowExclusiveLock;
      ExecInitRangeTable(estate, list_make1(rte));
      rri = makeNode(ResultRelInfo);
      InitResultRelInfo(rri, ledger, 1, nullptr, 0);
      estate->es_opened_result_relations = lappend(estate->es_opened_result_relations, rri);
      estate->es_output_cid = GetCurrentCommandId(true);
      ExecOpenIndices(rri, false);
      slot = ExecInitExtraTupleSlot(estate, RelationGetDescr(ledger), &TTSOpsHeapTuple);
      AfterTriggerBeginQuery();
    });
  }

  void Insert(HeapTuple row) {
    PgCall([&] {
      ExecStoreHeapTuple(row, slot, false);
      ExecSimpleRelationInsert(rri, estate, slot);
      ExecCloseIndices(rri);
      AfterTriggerEndQuery(estate);
      ExecResetTupleTable(estate->es_tupleTable, false);
      FreeExecutorState(estate);
    });
  }
};

// Forgets the row handed to the trigger however record() leaves.
struct PrechainedScope {
  PrechainedScope(Oid ledger_oid, HeapTuple row) { ledger::ExpectPrechained(ledger_oid, row); }
  ~PrechainedScope() { ledger::ForgetPrechained(); }
};

}  // namespace

// record(kind text, person canonical_id, platform text, payload jsonb) → bigint
CROSSWALK_FUNCTION(ledger_record) {
  if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2) || PG_ARGISNULL(3)) {
    throw Error(kNullValueNotAllowed, "record needs a kind, a person, a platform and a payload; got NULL");
  }
  Datum kind_datum = PgCall([&] { return PointerGetDatum(PG_DETOAST_DATUM_PACKED(PG_GETARG_DATUM(0))); });
  Datum platform_datum = PgCall([&] { return PointerGetDatum(PG_DETOAST_DATUM_PACKED(PG_GETARG_DATUM(2))); });
  const Jsonb* payload = PgCall([&] { return PG_GETARG_JSONB_P(3); });
  const std::string_view kind = ledger::DatumBytes(kind_datum);
  const std::string_view platform = ledger::DatumBytes(platform_datum);
  crosswalk::CanonicalId person;
  std::memcpy(person.data(), PG_GETARG_POINTER(1), person.size());

  // Checks, in the order (and with the errors) of the PL/pgSQL record() it replaces.
  const bool is_object = JB_ROOT_IS_OBJECT(payload) && !JB_ROOT_IS_SCALAR(payload);
  std::optional<std::string_view> from, to;
  if (kind == "transfer" && is_object) {
    from = StringMember(payload, "from_platform");
    to = StringMember(payload, "to_platform");
  }
  const Lookups found = LookUp(kind_datum, platform_datum, PG_GETARG_DATUM(1), from, to);
  if (!found.kind_known) {
    throw Error(crosswalk::sqlstate::kInvalidParameterValue, "unknown ledger kind \"" + Left100(kind) + "\"",
                "Known kinds are in crosswalk.ledger_kind; crosswalk_admin may add one.");
  }
  if (!found.platform_known) {
    throw Error(kUndefinedObject, "unknown platform \"" + std::string(platform) + "\"",
                "Register it first with crosswalk.register_platform().");
  }
  if (!found.live) {
    throw Error(kUndefinedObject, "unknown person " + crosswalk::FormatCanonicalId(person),
                "Link the person's account first with crosswalk.link().");
  }
  CheckPayloadForKind(kind, payload, found, from, to);
  ledger::CheckPayload(payload);

  // The entry up to its seq, and the executor state, before the lock.
  const TimestampTz recorded_at = GetCurrentTimestamp();
  std::string encoded;
  encoded.reserve(VARSIZE(payload) + 256);
  ledger::AppendEntryHead(kind, payload, *found.live, platform, recorded_at, encoded);
  const Oid ledger_oid = ledger::LedgerOid();
  Relation rel = PgCall([&] { return table_open(ledger_oid, RowExclusiveLock); });
  TupleDesc desc = RelationGetDescr(rel);
  const ledger::Columns cols = ledger::ResolveColumns(desc);
  if (desc->natts != 8) throw Error(crosswalk::sqlstate::kInternalError, "crosswalk.ledger has unexpected columns");
  auto* live = static_cast<std::uint8_t*>(crosswalk::pg::PgAlloc(crosswalk::kCanonicalIdSize));
  std::memcpy(live, found.live->data(), crosswalk::kCanonicalIdSize);
  Inserter inserter;
  inserter.Begin(rel);

  // Serialized from here to the end of the transaction.
  ledger::LockChain(ledger_oid);
  const ledger::Tip tip = ledger::ReadTip(rel);
  const int64 seq = tip.seq + 1;
  crosswalk::AppendLedgerEntryTail(seq, encoded);
  const crosswalk::Sha256Digest hash = crosswalk::LedgerHasher().Hash(tip.hash, encoded);

  Datum values[8];
  bool nulls[8] = {false, false, false, false, false, false, false, false};
  values[cols.seq - 1] = Int64GetDatum(seq);
  values[cols.recorded_at - 1] = TimestampTzGetDatum(recorded_at);
  values[cols.kind - 1] = kind_datum;
  values[cols.person - 1] = PointerGetDatum(live);
  values[cols.platform - 1] = platform_datum;
  values[cols.payload - 1] = PointerGetDatum(payload);
  values[cols.prev_hash - 1] = crosswalk::pg::ReturnVarlena(tip.hash);
  values[cols.hash - 1] = crosswalk::pg::ReturnVarlena(hash);
  HeapTuple row = PgCall([&] { return heap_form_tuple(desc, values, nulls); });
  {
    PrechainedScope handed(ledger_oid, row);
    inserter.Insert(row);
  }
  PgCall([&] { table_close(rel, NoLock); });
  PG_RETURN_INT64(seq);
}
