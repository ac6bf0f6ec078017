#include "conflict.hpp"

#include "sqltext.hpp"

namespace crosswalk::cdc {

namespace {

// The peer-side SQL of two-way tables. crosswalk_sync.settle_change applies
// one mapped change (old and new rows as jsonb of target columns) after
// comparing it with the peer's row; it is PL/pgSQL so that one round trip
// settles a row, and the comparison runs where the row is locked.
constexpr const char* kTwoWaySchema = R"SQL(
BEGIN;
SET LOCAL client_min_messages = warning;
SELECT pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('crosswalk_sync two_way'));
CREATE TABLE IF NOT EXISTS crosswalk_sync.conflicts (
  id                bigserial PRIMARY KEY,
  slot              text NOT NULL,
  lsn               pg_lsn,
  target_table      text NOT NULL,
  kind              text NOT NULL,
  incoming_op       text NOT NULL,
  local_op          text NOT NULL,
  policy            text NOT NULL,
  winner            text NOT NULL,
  incoming_platform text NOT NULL,
  incoming_time     timestamptz,
  local_platform    text NOT NULL,
  local_time        timestamptz,
  incoming_old      jsonb,
  incoming_row      jsonb,
  local_row         jsonb,
  resolved_at       timestamptz NOT NULL DEFAULT pg_catalog.now()
);
CREATE TABLE IF NOT EXISTS crosswalk_sync.tombstones (
  relid       oid NOT NULL,
  key         jsonb NOT NULL,
  deleted_at  timestamptz NOT NULL DEFAULT pg_catalog.now(),
  PRIMARY KEY (relid, key)
);
-- SECURITY DEFINER: the application roles that delete rows need no rights
-- on crosswalk_sync; the trigger only ever writes the deleted key.
CREATE OR REPLACE FUNCTION crosswalk_sync.record_tombstone() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
  k jsonb;
BEGIN
  SELECT pg_catalog.jsonb_object_agg(a, pg_catalog.to_jsonb(OLD) OPERATOR(pg_catalog.->) a) INTO k
    FROM pg_catalog.unnest(TG_ARGV) a;
  -- The tombstone row's xmin is the deleting transaction: its commit time
  -- and origin are what last_writer_wins compares.
  INSERT INTO crosswalk_sync.tombstones AS t (relid, key) VALUES (TG_RELID, k)
    ON CONFLICT (relid, key) DO UPDATE SET deleted_at = pg_catalog.now();
  RETURN NULL;
END
$fn$;
CREATE OR REPLACE FUNCTION crosswalk_sync.settle_change_once(
  p_slot text, p_lsn pg_lsn, p_target regclass, p_key text[], p_op text, p_old jsonb, p_new jsonb,
  p_platform text, p_time timestamptz, p_local text, p_policy text, p_priority text) RETURNS text
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
  probe jsonb := CASE WHEN p_op = 'insert' THEN p_new ELSE p_old END;
  match text;
  pkey jsonb;
  cur jsonb;
  cur_time timestamptz;
  cur_origin oid;
  cur_platform text;
  local_op text;
  kind text;
  lww boolean;
  incoming_wins boolean;
  cols text;
  sets text;
BEGIN
  IF probe IS NULL THEN
    RETURN 'empty';  -- `check` plans the statement over no rows
  END IF;
  SELECT string_agg(format('t.%I OPERATOR(pg_catalog.=) r.%I', k, k), ' AND '), jsonb_object_agg(k, probe -> k)
    INTO match, pkey FROM unnest(p_key) k;
  EXECUTE format('SELECT pg_catalog.to_jsonb(t), c.timestamp, c.roident FROM %s t, '
                 'pg_catalog.jsonb_populate_record(NULL::%s, $1) r, '
                 'LATERAL pg_catalog.pg_xact_commit_timestamp_origin(t.xmin) c WHERE %s FOR UPDATE OF t',
                 p_target, p_target, match)
    INTO cur, cur_time, cur_origin USING probe;
  IF cur IS NULL THEN
    -- Deleted here? An insert meets a deletion only when the deletion is
    -- the later one (an insert made after it saw the delete is newer).
    SELECT c.timestamp, c.roident INTO cur_time, cur_origin
      FROM crosswalk_sync.tombstones ts, LATERAL pg_xact_commit_timestamp_origin(ts.xmin) c
     WHERE ts.relid = p_target::oid AND ts.key = pkey;
    IF FOUND AND (p_op <> 'insert' OR cur_time >= p_time) THEN
      local_op := 'delete';
    END IF;
  ELSIF p_op = 'insert' THEN
    IF (SELECT jsonb_object_agg(e.key, e.value) FROM jsonb_each(cur) e WHERE p_new ? e.key) = p_new THEN
      RETURN 'unchanged';  -- the same row on both sides: nothing to settle
    END IF;
    local_op := 'insert';
  ELSIF (SELECT jsonb_object_agg(e.key, e.value) FROM jsonb_each(cur) e WHERE p_old ? e.key)
        IS DISTINCT FROM p_old THEN
    local_op := 'update';
  END IF;

  IF local_op IS NOT NULL THEN
    kind := CASE WHEN p_op = 'insert' THEN 'insert/' || local_op
                 WHEN p_op = local_op THEN p_op || '/' || local_op
                 ELSE 'update/delete' END;
    SELECT substr(o.roname, 11) INTO cur_platform FROM pg_replication_origin o
     WHERE o.roident = cur_origin AND o.roname LIKE 'crosswalk\_%';
    cur_platform := coalesce(cur_platform, p_local);
    -- Later commit wins; on a tie, the platform whose name sorts first. A
    -- row with no commit time (written before track_commit_timestamp was
    -- on, or frozen) is older than any change.
    lww := cur_time IS NULL OR p_time > cur_time OR (p_time = cur_time AND p_platform <= cur_platform);
    incoming_wins := CASE p_policy
                       WHEN 'dead_letter' THEN false
                       WHEN 'source_priority' THEN
                         CASE WHEN p_platform = p_priority THEN true
                              WHEN cur_platform = p_priority THEN false
                              ELSE lww END
                       ELSE lww END;
    INSERT INTO crosswalk_sync.conflicts (slot, lsn, target_table, kind, incoming_op, local_op, policy, winner,
                                          incoming_platform, incoming_time, local_platform, local_time,
                                          incoming_old, incoming_row, local_row)
    VALUES (p_slot, p_lsn, p_target::text, kind, p_op, local_op, p_policy,
            CASE WHEN incoming_wins THEN 'incoming' ELSE 'local' END,
            p_platform, p_time, cur_platform, cur_time, p_old, p_new, cur);
    IF NOT incoming_wins OR kind = 'delete/delete' THEN
      RETURN 'kept';
    END IF;
  END IF;

  IF p_op = 'delete' THEN
    IF cur IS NOT NULL THEN
      EXECUTE format('DELETE FROM %s t USING pg_catalog.jsonb_populate_record(NULL::%s, $1) r WHERE %s',
                     p_target, p_target, match) USING probe;
    END IF;
  ELSIF cur IS NULL THEN
    SELECT string_agg(format('%I', k), ', ') INTO cols FROM jsonb_object_keys(p_new) k;
    EXECUTE format('INSERT INTO %s (%s) SELECT %s FROM pg_catalog.jsonb_populate_record(NULL::%s, $1)',
                   p_target, cols, cols, p_target) USING p_new;
  ELSE
    SELECT string_agg(format('%I = n.%I', k, k), ', ') INTO sets FROM jsonb_object_keys(p_new) k;
    EXECUTE format('UPDATE %s t SET %s FROM pg_catalog.jsonb_populate_record(NULL::%s, $1) n, '
                   'pg_catalog.jsonb_populate_record(NULL::%s, $2) r WHERE %s',
                   p_target, sets, p_target, p_target, match) USING p_new, probe;
  END IF;
  RETURN CASE WHEN local_op IS NULL THEN 'applied' ELSE 'overrode' END;
END
$fn$;
-- A row that did not exist when settle_change_once looked for it may be
-- inserted by a local transaction that commits before its own INSERT does:
-- that INSERT then fails on the key, and the change is settled again against
-- the row now there (an insert/insert conflict), its first attempt (and any
-- conflict it recorded) rolled back.
CREATE OR REPLACE FUNCTION crosswalk_sync.settle_change(
  p_slot text, p_lsn pg_lsn, p_target regclass, p_key text[], p_op text, p_old jsonb, p_new jsonb,
  p_platform text, p_time timestamptz, p_local text, p_policy text, p_priority text) RETURNS text
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
BEGIN
  FOR attempt IN 1..5 LOOP
    BEGIN
      RETURN crosswalk_sync.settle_change_once(p_slot, p_lsn, p_target, p_key, p_op, p_old, p_new, p_platform,
                                               p_time, p_local, p_policy, p_priority);
    EXCEPTION WHEN unique_violation THEN
      IF attempt = 5 THEN
        RAISE;
      END IF;
    END;
  END LOOP;
END
$fn$;
REVOKE ALL ON FUNCTION crosswalk_sync.record_tombstone() FROM PUBLIC;
REVOKE ALL ON FUNCTION crosswalk_sync.settle_change_once(text, pg_lsn, regclass, text[], text, jsonb, jsonb, text,
                                                         timestamptz, text, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION crosswalk_sync.settle_change(text, pg_lsn, regclass, text[], text, jsonb, jsonb, text,
                                                    timestamptz, text, text, text) FROM PUBLIC;
COMMIT;
)SQL";

std::string ArrayLiteral(const std::vector<std::string>& items) {
  std::string out = "ARRAY[";
  for (std::size_t i = 0; i < items.size(); ++i) out += (i ? ", " : "") + QuoteLiteral(items[i]);
  return out + "]::text[]";
}

}  // namespace

std::string TimestampSql(std::int64_t commit_time) {
  return "('2000-01-01 00:00:00+00'::timestamptz OPERATOR(pg_catalog.+) " +
         QuoteLiteral(std::to_string(commit_time) + " microseconds") + "::interval)";
}

void PrepareTwoWayTables(pq::Connection& peer, const PeerConfig& config) {
  auto track = peer.Scalar("SHOW track_commit_timestamp");
  if (track != "on") {
    throw Error(sqlstate::kConfigFileError,
                "peer " + config.name + " (" + pq::MaskDsn(config.dsn) + "): track_commit_timestamp is " +
                    track.value_or("?") + ", but two-way tables need it on to settle conflicts",
                "Set track_commit_timestamp = on in postgresql.conf and restart the server.");
  }
  peer.Exec(kTwoWaySchema);
  for (const auto& t : config.tables) {
    if (!t.two_way) continue;
    auto identity =
        peer.Scalar("SELECT relreplident::text FROM pg_catalog.pg_class WHERE oid = $1::regclass", {t.target.Quoted()});
    if (identity != "f") {
      throw Error(sqlstate::kConfigFileError,
                  "config: " + t.path + ".target: two-way table " + t.target.Display() + " on " + config.platform +
                      " has REPLICA IDENTITY " + (identity == "d" ? "DEFAULT" : identity.value_or("?")) +
                      ", not FULL: updates and deletes must carry the whole old row to detect conflicts",
                  "ALTER TABLE " + t.target.Quoted() + " REPLICA IDENTITY FULL;");
    }
    std::string args;
    for (const auto& k : t.key) args += (args.empty() ? "" : ", ") + QuoteLiteral(k);
    peer.Exec("CREATE OR REPLACE TRIGGER crosswalk_tombstone AFTER DELETE ON " + t.target.Quoted() +
              " FOR EACH ROW EXECUTE FUNCTION crosswalk_sync.record_tombstone(" + args + ")");
  }
  PruneTombstones(peer, config);
}

void PruneTombstones(pq::Connection& peer, const PeerConfig& config) {
  for (const auto& t : config.tables) {
    if (!t.two_way) continue;
    peer.ExecParams(
        "DELETE FROM crosswalk_sync.tombstones WHERE relid = $1::regclass AND deleted_at < pg_catalog.now() - "
        "pg_catalog.make_interval(secs => $2::int)",
        {t.target.Quoted(), std::to_string(t.two_way->tombstone_retention_seconds)});
  }
}

std::string BuildTwoWayStatement(const TableMapping& m, const std::map<std::string, std::string>& types, const char* op,
                                 const std::string& stage,
                                 const std::function<std::string(const ColumnMapping&)>& value_sql,
                                 const ConflictContext& ctx) {
  std::string values;
  for (const auto& c : m.columns) {
    values += (values.empty() ? "" : ", ") + std::string("(") + value_sql(c) + ")::" + types.at(c.target) + " AS " +
              QuoteIdent(c.target);
  }
  auto row = [&](const char* which) {
    return "(SELECT pg_catalog.to_jsonb(r) FROM (SELECT " + values + " FROM " + stage + " WHERE _cw_old IS NOT " +
           which + ") AS r)";
  };
  const TwoWayConfig& w = *m.two_way;
  return "SELECT crosswalk_sync.settle_change(" + QuoteLiteral(ctx.slot) + ", " + QuoteLiteral(FormatLsn(ctx.lsn)) +
         "::pg_lsn, " + QuoteLiteral(m.target.Quoted()) + "::regclass, " + ArrayLiteral(m.key) + ", " +
         QuoteLiteral(op) + ", " + (std::string(op) == "insert" ? "NULL::jsonb" : row("FALSE")) + ", " +
         (std::string(op) == "delete" ? "NULL::jsonb" : row("TRUE")) + ", " + QuoteLiteral(ctx.origin_platform) + ", " +
         TimestampSql(ctx.commit_time) + ", " + QuoteLiteral(ctx.local_platform) + ", " +
         QuoteLiteral(ConflictPolicyName(w.conflicts)) + ", " +
         (w.priority ? QuoteLiteral(*w.priority) : std::string("NULL")) + ")";
}

}  // namespace crosswalk::cdc
