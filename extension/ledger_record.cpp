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
#include <vector>

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
#include "catalog/pg_trigger.h"
#include "commands/trigger.h"
#include "executor/executor.h"
#include "access/genam.h"
#include "access/htup_details.h"
#include "catalog/pg_am.h"
#include "catalog/pg_index.h"
#include "utils/datum.h"
#include "utils/lsyscache.h"
#include "utils/snapmgr.h"
#include "access/stratnum.h"
#include "access/skey.h"
#include "mb/pg_wchar.h"
#include "nodes/makefuncs.h"
#include "utils/inval.h"
#include "utils/memutils.h"
#include "nodes/readfuncs.h"
#include "optimizer/optimizer.h"
#include "utils/syscache.h"
#include "utils/rel.h"

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

// How to look a key up in one of the tables record() reads: found once per
// backend and forgotten on any relcache invalidation (an index added or
// dropped, the extension re-created).
struct ProbePlan {
  Oid relid = InvalidOid;
  Oid index_oid = InvalidOid;
  AttrNumber attnum = InvalidAttrNumber;
  AttrNumber fetch_attnum = InvalidAttrNumber;
  RegProcedure eq = InvalidOid;
  Oid collation = InvalidOid;
};
enum ProbeTable { kKindByName, kPlatformByName, kPersonById, kProbeTables };
ProbePlan probe_plans[kProbeTables];
bool probe_callback_registered = false;

void ForgetProbePlans(Datum, Oid) {
  for (auto& p : probe_plans) p = ProbePlan{};
}

// Finds how to look up crosswalk.<table> by `column` (a valid, non-partial
// btree index on that column alone) and where column `fetch` is.
ProbePlan PlanProbe(Oid schema, const char* table, const char* column, const char* fetch) {
  ProbePlan plan;
  PgCall([&] {
    if (!probe_callback_registered) {
      CacheRegisterRelcacheCallback(ForgetProbePlans, 0);
      probe_callback_registered = true;
    }
    plan.relid = get_relname_relid(table, schema);
    if (!OidIsValid(plan.relid)) elog(ERROR, "crosswalk.%s does not exist", table);
    Relation rel = table_open(plan.relid, AccessShareLock);
    TupleDesc desc = RelationGetDescr(rel);
    for (int i = 0; i < desc->natts; ++i) {
      Form_pg_attribute att = TupleDescAttr(desc, i);
      if (att->attisdropped) continue;
      if (strcmp(NameStr(att->attname), column) == 0) plan.attnum = att->attnum;
      if (fetch != nullptr && strcmp(NameStr(att->attname), fetch) == 0) plan.fetch_attnum = att->attnum;
    }
    if (plan.attnum == InvalidAttrNumber || (fetch != nullptr && plan.fetch_attnum == InvalidAttrNumber)) {
      elog(ERROR, "crosswalk.%s lacks a column record() reads", table);
    }
    Oid opfamily = InvalidOid, opcintype = InvalidOid;
    List* indexes = RelationGetIndexList(rel);
    ListCell* lc;
    foreach (lc, indexes) {
      Relation index = index_open(lfirst_oid(lc), AccessShareLock);
      if (index->rd_index->indnkeyatts == 1 && index->rd_index->indkey.values[0] == plan.attnum &&
          index->rd_index->indisvalid && index->rd_rel->relam == BTREE_AM_OID &&
          heap_attisnull(index->rd_indextuple, Anum_pg_index_indpred, nullptr)) {
        plan.index_oid = RelationGetRelid(index);
        opfamily = index->rd_opfamily[0];
        opcintype = index->rd_opcintype[0];
        plan.collation = index->rd_indcollation[0];
      }
      index_close(index, AccessShareLock);
      if (OidIsValid(plan.index_oid)) break;
    }
    list_free(indexes);
    table_close(rel, AccessShareLock);
    if (!OidIsValid(plan.index_oid)) elog(ERROR, "crosswalk.%s has no index on %s", table, column);
    Oid eq = get_opfamily_member(opfamily, opcintype, opcintype, BTEqualStrategyNumber);
    if (!OidIsValid(eq)) elog(ERROR, "no equality operator for crosswalk.%s.%s", table, column);
    plan.eq = get_opcode(eq);
  });
  return plan;
}

// Looks `key` up in crosswalk.<table> through the index PlanProbe found,
// under `snapshot`; copies column `fetch` of the row found into *fetched
// (0 if NULL). Without SQL: record() is on the payment path, and planning
// even a cached statement with parameters cost more than the rest of
// record() together.
bool Probe(ProbeTable which, Oid schema, const char* table, const char* column, Datum key, Snapshot snapshot,
           const char* fetch = nullptr, Datum* fetched = nullptr) {
  ProbePlan& plan = probe_plans[which];
  if (!OidIsValid(plan.relid)) plan = PlanProbe(schema, table, column, fetch);
  const ProbePlan p = plan;
  bool hit = false;
  PgCall([&] {
    Relation rel = table_open(p.relid, AccessShareLock);
    ScanKeyData skey;
    ScanKeyInit(&skey, p.attnum, BTEqualStrategyNumber, p.eq, key);
    skey.sk_collation = p.collation;
    SysScanDesc scan = systable_beginscan(rel, p.index_oid, true, snapshot, 1, &skey);
    HeapTuple tuple = systable_getnext(scan);
    if (HeapTupleIsValid(tuple)) {
      hit = true;
      if (fetched != nullptr) {
        bool isnull = false;
        Datum d = heap_getattr(tuple, p.fetch_attnum, RelationGetDescr(rel), &isnull);
        Form_pg_attribute att = TupleDescAttr(RelationGetDescr(rel), p.fetch_attnum - 1);
        *fetched = isnull ? 0 : datumCopy(d, att->attbyval, att->attlen);
      }
    }
    systable_endscan(scan);
    table_close(rel, AccessShareLock);
  });
  return hit;
}

Lookups LookUp(Datum kind, Datum platform, Datum person, std::optional<std::string_view> from,
               std::optional<std::string_view> to) {
  auto text = [](std::string_view s) {
    return crosswalk::pg::ReturnVarlena(crosswalk::ByteView(reinterpret_cast<const std::uint8_t*>(s.data()), s.size()));
  };
  // Like a statement of a volatile function, the lookups see what this
  // transaction did so far (a person linked earlier in the same statement).
  Snapshot snapshot = PgCall([] {
    CommandCounterIncrement();
    PushActiveSnapshot(GetTransactionSnapshot());
    return GetActiveSnapshot();
  });
  struct PopSnapshot {
    ~PopSnapshot() { PopActiveSnapshot(); }
  } pop;
  const Oid schema = PgCall([] { return get_namespace_oid("crosswalk", false); });
  Lookups out;
  out.kind_known = Probe(kKindByName, schema, "ledger_kind", "kind", kind, snapshot);
  out.platform_known = Probe(kPlatformByName, schema, "platform", "name", platform, snapshot);
  Datum merged_into = 0;
  if (Probe(kPersonById, schema, "person", "person", person, snapshot, "merged_into", &merged_into)) {
    out.live.emplace();
    std::memcpy(out.live->data(), DatumGetPointer(merged_into != 0 ? merged_into : person), out.live->size());
  }
  if (from) out.from_known = Probe(kPlatformByName, schema, "platform", "name", text(*from), snapshot);
  if (to) out.to_known = Probe(kPlatformByName, schema, "platform", "name", text(*to), snapshot);
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

// The ledger's CHECK constraints, parsed and planned (expression_planner:
// constants folded, SQL functions inlined) once per backend and kept with the
// text they came from; only the executor state is built per insert (parsing
// them made up a sixth of record(), planning them another fortieth).
// Re-planned when that text differs, and after any change to a function or a
// type, since the plan may have inlined one (as the plan cache does).
struct PlannedChecks {
  MemoryContext context = nullptr;
  std::vector<std::string> texts;
  std::vector<Expr*> exprs;
  std::uint64_t generation = 0;  // bumped by every invalidation
  bool callbacks_registered = false;
};
PlannedChecks planned_checks;

void ForgetPlannedChecks(Datum, int, uint32) {
  planned_checks.texts.clear();
  ++planned_checks.generation;
}

// Fills rri's constraint expressions before the insert (and before the chain
// lock), from planned_checks, as ExecRelCheck would on first use.
void PrepareChecks(ResultRelInfo* rri, EState* estate) {
  TupleConstr* constr = RelationGetDescr(rri->ri_RelationDesc)->constr;
  if (constr == nullptr || constr->num_check == 0) return;
  const int n = constr->num_check;
  if (!planned_checks.callbacks_registered) {
    PgCall([] {
      CacheRegisterSyscacheCallback(PROCOID, ForgetPlannedChecks, 0);
      CacheRegisterSyscacheCallback(TYPEOID, ForgetPlannedChecks, 0);
    });
    planned_checks.callbacks_registered = true;
  }
  bool same = static_cast<int>(planned_checks.texts.size()) == n;
  for (int i = 0; same && i < n; ++i)
    same = planned_checks.texts[static_cast<std::size_t>(i)] == constr->check[i].ccbin;
  while (!same) {
    // Planning reads the catalogs and may take an invalidation itself: the
    // result counts only if none came in meanwhile.
    const std::uint64_t generation = planned_checks.generation;
    planned_checks.texts.clear();
    planned_checks.exprs.clear();
    if (planned_checks.context == nullptr) {
      planned_checks.context = PgCall(
          [] { return AllocSetContextCreate(CacheMemoryContext, "crosswalk ledger checks", ALLOCSET_SMALL_SIZES); });
    } else {
      PgCall([] { MemoryContextReset(planned_checks.context); });
    }
    for (int i = 0; i < n; ++i) {
      const char* text = constr->check[i].ccbin;
      planned_checks.exprs.push_back(PgCall([&] {
        MemoryContext old = MemoryContextSwitchTo(planned_checks.context);
        Expr* planned = expression_planner(static_cast<Expr*>(stringToNode(text)));
        MemoryContextSwitchTo(old);
        return planned;
      }));
    }
    same = planned_checks.generation == generation;
    if (same) {
      for (int i = 0; i < n; ++i) planned_checks.texts.emplace_back(constr->check[i].ccbin);
    }
  }
  // The executor state gets its own copy of each tree, so that a re-plan
  // (after an invalidation, by a nested record()) never frees one in use.
  Expr** exprs = planned_checks.exprs.data();
  PgCall([&] {
    MemoryContext old = MemoryContextSwitchTo(estate->es_query_cxt);
    rri->ri_ConstraintExprs = static_cast<ExprState**>(palloc(n * sizeof(ExprState*)));
    for (int i = 0; i < n; ++i) {
      rri->ri_ConstraintExprs[i] = ExecInitExpr(static_cast<Expr*>(copyObjectImpl(exprs[i])), nullptr);
    }
    MemoryContextSwitchTo(old);
  });
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
    });
    PrepareChecks(rri, estate);
    PrepareRowTriggers();
    PgCall([] { AfterTriggerBeginQuery(); });
  }

  // Looks up the functions of the BEFORE INSERT row triggers (the chaining
  // trigger among them) now, as ExecCallTriggerFunc would on their first
  // call: under the chain lock, only calling them is left.
  void PrepareRowTriggers() {
    TriggerDesc* triggers = rri->ri_TrigDesc;
    if (triggers == nullptr || !triggers->trig_insert_before_row) return;
    PgCall([&] {
      for (int i = 0; i < triggers->numtriggers; ++i) {
        const Trigger& t = triggers->triggers[i];
        if (TRIGGER_FOR_ROW(t.tgtype) && TRIGGER_FOR_BEFORE(t.tgtype) && TRIGGER_FOR_INSERT(t.tgtype) &&
            rri->ri_TrigFunctions[i].fn_oid == InvalidOid) {
          fmgr_info_cxt(t.tgfoid, &rri->ri_TrigFunctions[i], estate->es_query_cxt);
        }
      }
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
  ledger::TipScan tip_scan(rel);

  // Serialized from here to the end of the transaction.
  ledger::LockChain(ledger_oid);
  const ledger::Tip tip = tip_scan.Read();
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
