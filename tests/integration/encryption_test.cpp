// Encrypted columns against real clusters: pg_dump/pg_restore and COPY round
// trips, shreds/revokes/rotations seen by other sessions, master key
// configuration problems, match keys across servers, the 0.1.0 -> 0.3.0
// upgrade, and large values.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

#include "cluster.hpp"
#include "master_key_file.hpp"

namespace crosswalk::test {
namespace {

std::string SqlStateOf(pq::Connection& c, const std::string& sql) {
  try {
    c.Exec(sql);
  } catch (const Error& e) {
    return e.sqlstate();
  }
  return "ok";
}

// "SQLSTATE: message" of a failing statement, or "ok".
std::string ErrorOf(pq::Connection& c, const std::string& sql) {
  try {
    c.Exec(sql);
  } catch (const Error& e) {
    return std::string(e.sqlstate()) + ": " + e.what();
  }
  return "ok";
}

// The HINT of a failing statement.
std::string HintOf(pq::Connection& c, const std::string& sql) {
  pq::ResultPtr r(PQexec(c.raw(), sql.c_str()));
  const char* hint = PQresultErrorField(r.get(), PG_DIAG_MESSAGE_HINT);
  return hint != nullptr ? hint : "";
}

std::string ReadFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

TEST(Encryption, DumpRestoreAndCopyRoundTrip) {
  MasterKeyFile key(TestMasterKeyHex(1));
  Cluster cluster({key.ConfLine()});
  cluster.CreateDatabaseWithExtension("src");
  auto src = cluster.Connect("src");
  src.Exec("SELECT crosswalk.create_key('k'), crosswalk.create_key('d', 'aes-256-siv')");
  src.Exec("CREATE ROLE dump_reader");
  src.Exec("SELECT crosswalk.grant_decrypt('k', 'dump_reader')");
  src.Exec("SELECT crosswalk.rotate_key('k')");
  src.Exec(
      "CREATE TABLE t (id int PRIMARY KEY, secret crosswalk.encrypted, det crosswalk.encrypted UNIQUE, "
      "bin crosswalk.encrypted)");
  for (int i = 0; i < 50; ++i) {
    std::string id = std::to_string(i);
    src.ExecParams(
        "INSERT INTO t VALUES ($1::int, crosswalk.encrypt($2, 'k', 't.secret:' || $1), "
        "crosswalk.encrypt($3, 'd', 't.det'), crosswalk.encrypt(convert_to($2, 'UTF8'), 'k'))",
        {id, "plaintext-marker-" + id, "det-marker-" + id});
  }
  // Rows under key versions 2 and 3.
  src.Exec("SELECT crosswalk.rotate_key('k')");
  src.Exec("UPDATE t SET secret = crosswalk.reencrypt(secret, 't.secret:' || id) WHERE id % 2 = 0");
  const std::string all = "SELECT string_agg(secret::text || det::text || bin::text, ',' ORDER BY id) FROM ";
  const std::string before = *src.Scalar(all + "t");

  // Plain-format dump: ciphertexts as cw1: text, wrapped keys, no plaintext.
  const std::string plain = cluster.dir() + "/src.sql";
  ASSERT_EQ(cluster.RunTool("pg_dump", "-d src -f '" + plain + "'"), 0);
  const std::string dump = ReadFile(plain);
  EXPECT_NE(dump.find("cw1:"), std::string::npos);
  EXPECT_EQ(dump.find("plaintext-marker-"), std::string::npos);
  EXPECT_EQ(dump.find("det-marker-"), std::string::npos);
  EXPECT_NE(dump.find("COPY crosswalk.key_version"), std::string::npos) << "keys travel with the dump";

  // Custom-format dump restored into a new database decrypts the same.
  const std::string custom = cluster.dir() + "/src.dump";
  ASSERT_EQ(cluster.RunTool("pg_dump", "-Fc -d src -f '" + custom + "'"), 0);
  cluster.Connect().Exec("CREATE DATABASE dst");
  ASSERT_EQ(cluster.RunTool("pg_restore", "--exit-on-error -d dst '" + custom + "'"), 0);
  auto dst = cluster.Connect("dst");
  EXPECT_EQ(*dst.Scalar(all + "t"), before);
  EXPECT_EQ(*dst.Scalar("SELECT count(*) FROM t WHERE crosswalk.decrypt(secret, 't.secret:' || id) = "
                        "'plaintext-marker-' || id AND crosswalk.decrypt(det, 't.det') = 'det-marker-' || id AND "
                        "convert_from(crosswalk.decrypt_bytea(bin), 'UTF8') = 'plaintext-marker-' || id"),
            "50");
  EXPECT_EQ(*dst.Scalar("SELECT string_agg(k.name || v.version, ',' ORDER BY k.name, v.version) FROM crosswalk.key k "
                        "JOIN crosswalk.key_version v USING (key_id)"),
            "d1,k1,k2,k3");
  EXPECT_EQ(*dst.Scalar("SELECT count(*) FROM crosswalk.key_grant WHERE grantee = 'dump_reader'::regrole"), "1");
  // Deterministic encryption still matches after the restore.
  EXPECT_EQ(*dst.Scalar("SELECT id FROM t WHERE det = (SELECT crosswalk.encrypt('det-marker-7', 'd', 't.det'))"), "7");

  // COPY out and in, text, csv and binary (send/recv), into fresh tables.
  for (const std::string format : {"text", "csv", "binary"}) {
    const std::string file = cluster.dir() + "/t." + format;
    src.Exec("COPY t TO '" + file + "' (FORMAT " + format + ")");
    src.Exec("CREATE TABLE t_" + format + " (LIKE t)");
    src.Exec("COPY t_" + format + " FROM '" + file + "' (FORMAT " + format + ")");
    EXPECT_EQ(*src.Scalar(all + "t_" + format), before) << format;
    EXPECT_EQ(*src.Scalar("SELECT count(*) FROM t_" + format +
                          " WHERE crosswalk.decrypt(secret, 't.secret:' || id) = 'plaintext-marker-' || id"),
              "50")
        << format;
    EXPECT_EQ(ReadFile(file).find("marker"), std::string::npos) << format;
  }
  // COPY FROM refuses garbage with the input function's error.
  const std::string bad = cluster.dir() + "/bad.txt";
  std::ofstream(bad) << "1\tcw1:AAAA\t\\N\t\\N\n";
  Shell("chmod 644 '" + bad + "'");
  EXPECT_EQ(SqlStateOf(src, "COPY t_text FROM '" + bad + "'"), "22P02");
}

TEST(Encryption, ShredRevokeAndRotateReachOtherSessions) {
  MasterKeyFile key(TestMasterKeyHex(2));
  Cluster cluster({key.ConfLine()});
  cluster.CreateDatabaseWithExtension("app");
  auto admin = cluster.Connect("app");
  admin.Exec("CREATE ROLE reader LOGIN");
  admin.Exec("SELECT crosswalk.create_key('k'), crosswalk.create_key('other')");
  admin.Exec("SELECT crosswalk.grant_decrypt('k', 'reader'), crosswalk.grant_decrypt('other', 'reader')");
  admin.Exec("CREATE TABLE t AS SELECT crosswalk.encrypt('v1', 'k') AS x, crosswalk.encrypt('v2', 'other') AS y");
  admin.Exec("GRANT SELECT ON t TO reader");

  pq::Connection reader(cluster.Dsn("app") + " user=reader");
  // The reader caches both keys.
  EXPECT_EQ(*reader.Scalar("SELECT crosswalk.decrypt(x) || crosswalk.decrypt(y) FROM t"), "v1v2");
  EXPECT_EQ(*reader.Scalar("SELECT crosswalk.key_version_of(crosswalk.encrypt('n', 'k'))"), "1");

  // A rotation elsewhere: the reader's next transaction encrypts under version 2.
  admin.Exec("SELECT crosswalk.rotate_key('k')");
  EXPECT_EQ(*reader.Scalar("SELECT crosswalk.key_version_of(crosswalk.encrypt('n', 'k'))"), "2");

  // A revoke committed elsewhere is refused from the reader's next
  // transaction; the other key is unaffected.
  reader.Exec("BEGIN");
  EXPECT_EQ(*reader.Scalar("SELECT crosswalk.decrypt(x) FROM t"), "v1");
  admin.Exec("SELECT crosswalk.revoke_decrypt('k', 'reader')");
  // Inside its open transaction the reader keeps what it validated...
  EXPECT_EQ(*reader.Scalar("SELECT crosswalk.decrypt(x) FROM t"), "v1");
  reader.Exec("COMMIT");
  // ...and loses it at the next one.
  EXPECT_EQ(SqlStateOf(reader, "SELECT crosswalk.decrypt(x) FROM t"), "42501");
  EXPECT_EQ(*reader.Scalar("SELECT crosswalk.decrypt(y) FROM t"), "v2");
  admin.Exec("SELECT crosswalk.grant_decrypt('k', 'reader')");
  EXPECT_EQ(*reader.Scalar("SELECT crosswalk.decrypt(x) FROM t"), "v1");

  // A shred committed elsewhere: refused from the next transaction on.
  admin.Exec("SELECT crosswalk.shred_key('other')");
  EXPECT_EQ(SqlStateOf(reader, "SELECT crosswalk.decrypt(y) FROM t"), "55000");
  EXPECT_EQ(SqlStateOf(reader, "SELECT crosswalk.encrypt('z', 'other')"), "55000");
  EXPECT_EQ(*reader.Scalar("SELECT crosswalk.decrypt(x) FROM t"), "v1");

  // A rotation rolled back in a subtransaction leaves nothing behind in the
  // cache of the session that made it: new values stay decryptable.
  admin.Exec("BEGIN");
  admin.Exec("SAVEPOINT s");
  EXPECT_EQ(*admin.Scalar("SELECT crosswalk.rotate_key('k')"), "3");
  EXPECT_EQ(*admin.Scalar("SELECT crosswalk.key_version_of(crosswalk.encrypt('n', 'k'))"), "3");
  admin.Exec("ROLLBACK TO SAVEPOINT s");
  EXPECT_EQ(*admin.Scalar("SELECT crosswalk.key_version_of(crosswalk.encrypt('n', 'k'))"), "2");
  admin.Exec("COMMIT");
  EXPECT_EQ(*reader.Scalar("SELECT crosswalk.decrypt(crosswalk.encrypt('after', 'k'))"), "after");

  // forget() in one session: the person's values fail in the other.
  admin.Exec("SELECT crosswalk.register_platform('p')");
  std::string person = *admin.Scalar("SELECT crosswalk.link('p', 'u')");
  admin.ExecParams("SELECT crosswalk.create_key('person-key', 'aes-256-gcm', $1)", {person});
  admin.Exec("SELECT crosswalk.grant_decrypt('person-key', 'reader')");
  admin.Exec("CREATE TABLE pv AS SELECT crosswalk.encrypt('address', 'person-key') AS v");
  admin.Exec("GRANT SELECT ON pv TO reader");
  EXPECT_EQ(*reader.Scalar("SELECT crosswalk.decrypt(v) FROM pv"), "address");
  admin.ExecParams("SELECT crosswalk.forget($1)", {person});
  EXPECT_EQ(SqlStateOf(reader, "SELECT crosswalk.decrypt(v) FROM pv"), "55000");
  EXPECT_EQ(*admin.Scalar("SELECT count(*) FROM crosswalk.account"), "0");
}

// The call-site key cache (fn_extra) of a scan that stays open, and of a
// plpgsql call site reused by every statement of a transaction: a revoke,
// shred or rotation committed by another session leaves the reader's open
// transaction as it was validated and takes effect from its next one.
TEST(Encryption, CallSiteCachesSeeOtherSessionsChangesAtTheNextTransaction) {
  MasterKeyFile key(TestMasterKeyHex(9));
  Cluster cluster({key.ConfLine()});
  cluster.CreateDatabaseWithExtension("app");
  auto admin = cluster.Connect("app");
  admin.Exec("CREATE ROLE reader LOGIN");
  admin.Exec("SELECT crosswalk.create_key('k'), crosswalk.create_key('w')");
  admin.Exec("SELECT crosswalk.grant_decrypt('k', 'reader'), crosswalk.grant_decrypt('w', 'reader')");
  admin.Exec("CREATE TABLE t AS SELECT i, crosswalk.encrypt('v' || i, 'k') AS x FROM generate_series(1, 4) i");
  admin.Exec("GRANT SELECT ON t TO reader");
  admin.Exec(
      "CREATE FUNCTION plain_of(v crosswalk.encrypted) RETURNS text LANGUAGE plpgsql AS "
      "$$ BEGIN RETURN crosswalk.decrypt(v); END $$");
  admin.Exec(
      "CREATE FUNCTION enc_version(p text) RETURNS integer LANGUAGE plpgsql AS "
      "$$ BEGIN RETURN crosswalk.key_version_of(crosswalk.encrypt(p, 'w')); END $$");

  pq::Connection reader(cluster.Dsn("app") + " user=reader");
  // A scan whose decrypt() call site is warm when the revoke commits.
  reader.Exec("BEGIN");
  reader.Exec("DECLARE c CURSOR FOR SELECT crosswalk.decrypt(x) FROM t ORDER BY i");
  EXPECT_EQ(*reader.Scalar("FETCH 1 FROM c"), "v1");
  EXPECT_EQ(*reader.Scalar("SELECT plain_of(x) FROM t WHERE i = 1"), "v1");
  admin.Exec("SELECT crosswalk.revoke_decrypt('k', 'reader')");
  EXPECT_EQ(*reader.Scalar("FETCH 1 FROM c"), "v2");  // validated for this transaction
  EXPECT_EQ(*reader.Scalar("SELECT plain_of(x) FROM t WHERE i = 2"), "v2");
  reader.Exec("COMMIT");
  EXPECT_EQ(SqlStateOf(reader, "SELECT plain_of(x) FROM t WHERE i = 1"), "42501");
  reader.Exec("BEGIN");
  reader.Exec("DECLARE c CURSOR FOR SELECT crosswalk.decrypt(x) FROM t ORDER BY i");
  EXPECT_EQ(SqlStateOf(reader, "FETCH 1 FROM c"), "42501");
  reader.Exec("ROLLBACK");
  admin.Exec("SELECT crosswalk.grant_decrypt('k', 'reader')");

  // Rotation elsewhere: a warm encrypt() call site keeps its version for the
  // transaction, the next one encrypts under the new version.
  reader.Exec("BEGIN");
  EXPECT_EQ(*reader.Scalar("SELECT enc_version('a')"), "1");
  admin.Exec("SELECT crosswalk.rotate_key('w')");
  EXPECT_EQ(*reader.Scalar("SELECT enc_version('a')"), "1");
  reader.Exec("COMMIT");
  EXPECT_EQ(*reader.Scalar("SELECT enc_version('a')"), "2");

  // Shred elsewhere: refused from the next transaction, by both call sites.
  reader.Exec("BEGIN");
  EXPECT_EQ(*reader.Scalar("SELECT plain_of(x) FROM t WHERE i = 3"), "v3");
  admin.Exec("SELECT crosswalk.shred_key('k'), crosswalk.shred_key('w')");
  EXPECT_EQ(*reader.Scalar("SELECT plain_of(x) FROM t WHERE i = 3"), "v3");
  reader.Exec("COMMIT");
  EXPECT_EQ(SqlStateOf(reader, "SELECT plain_of(x) FROM t WHERE i = 3"), "55000");
  EXPECT_EQ(SqlStateOf(reader, "SELECT enc_version('a')"), "55000");
  EXPECT_EQ(SqlStateOf(reader, "SELECT crosswalk.decrypt(x) FROM t"), "55000");
}

TEST(Encryption, MasterKeyProblemsAreClearErrors) {
  MasterKeyFile key(TestMasterKeyHex(3));
  Cluster cluster;  // no master key configured
  cluster.CreateDatabaseWithExtension("app");
  // Sets (or clears) the master key settings, reloads, and returns a new session.
  auto reloaded = [&](const std::string& setting) {
    auto c = cluster.Connect("app");
    c.Exec("LOAD 'crosswalk'");  // defines the settings in this session
    c.Exec("ALTER SYSTEM RESET crosswalk.master_key_file");
    c.Exec("ALTER SYSTEM RESET crosswalk.master_key_command");
    if (!setting.empty()) c.Exec("ALTER SYSTEM SET " + setting);
    c.Exec("SELECT pg_reload_conf()");
    c.Exec("SELECT pg_sleep(0.3)");
    return cluster.Connect("app");
  };
  {
    auto c = cluster.Connect("app");
    std::string e = ErrorOf(c, "SELECT crosswalk.create_key('k')");
    EXPECT_EQ(e.substr(0, 5), "F0000") << e;
    EXPECT_NE(e.find("no master key is configured"), std::string::npos) << e;
    std::string hint = HintOf(c, "SELECT crosswalk.create_key('k')");
    EXPECT_NE(hint.find("crosswalk.master_key_file"), std::string::npos) << hint;
    EXPECT_NE(hint.find("crosswalk.master_key_command"), std::string::npos) << hint;
  }
  {
    auto c = reloaded("crosswalk.master_key_file = '" + key.path() + ".missing'");
    EXPECT_EQ(SqlStateOf(c, "SELECT crosswalk.create_key('k')"), "58P01");
  }
  key.Rewrite(TestMasterKeyHex(3) + "\n", 0644);
  {
    auto c = reloaded(key.ConfLine());
    std::string e = ErrorOf(c, "SELECT crosswalk.create_key('k')");
    EXPECT_EQ(e.substr(0, 5), "F0000");
    EXPECT_NE(e.find("group or others"), std::string::npos) << e;
  }
  key.Rewrite("not a key\n", 0600);
  {
    auto c = cluster.Connect("app");
    std::string e = ErrorOf(c, "SELECT crosswalk.create_key('k')");
    EXPECT_EQ(e.substr(0, 5), "F0000");
    EXPECT_EQ(e.find("not a key"), std::string::npos) << "never echo the file: " << e;
  }
  key.Rewrite(TestMasterKeyHex(3) + "\n", 0600);
  std::string made;
  {
    auto c = cluster.Connect("app");
    c.Exec("SELECT crosswalk.create_key('k')");
    made = *c.Scalar("SELECT crosswalk.encrypt('hello', 'k')");
    EXPECT_EQ(*c.ExecParams("SELECT crosswalk.decrypt($1::crosswalk.encrypted)", {made}).get(0, 0), "hello");
  }
  // A command that prints the same key decrypts the same values.
  {
    auto c = reloaded("crosswalk.master_key_command = 'cat " + key.path() + "'");
    EXPECT_EQ(*c.ExecParams("SELECT crosswalk.decrypt($1::crosswalk.encrypted)", {made}).get(0, 0), "hello");
  }
  {
    auto c = reloaded("crosswalk.master_key_command = 'exit 7'");
    std::string e = ErrorOf(c, "SELECT crosswalk.create_key('k2')");
    EXPECT_NE(e.find("exited with status 7"), std::string::npos) << e;
  }
  // Another master key: the stored data keys do not unwrap.
  {
    auto c = reloaded("crosswalk.master_key_command = 'echo " + TestMasterKeyHex(4) + "'");
    std::string e = ErrorOf(c, "SELECT crosswalk.decrypt('" + made + "')");
    EXPECT_EQ(e.substr(0, 5), "XX001") << e;
    EXPECT_NE(e.find("another master key"), std::string::npos) << e;
  }
  // Both settings at once are ambiguous.
  {
    auto c = reloaded("crosswalk.master_key_command = 'cat " + key.path() + "'");
    c.Exec("ALTER SYSTEM SET " + key.ConfLine());
    c.Exec("SELECT pg_reload_conf(), pg_sleep(0.3)");
    auto fresh = cluster.Connect("app");
    std::string e = ErrorOf(fresh, "SELECT crosswalk.create_key('k3')");
    EXPECT_NE(e.find("both crosswalk.master_key_file and crosswalk.master_key_command"), std::string::npos) << e;
  }
  // A session cannot change the settings, and only superusers can read them.
  {
    auto c = cluster.Connect("app");
    c.Exec("LOAD 'crosswalk'");
    EXPECT_EQ(SqlStateOf(c, "SET crosswalk.master_key_file = '/tmp/x'"), "55P02");
    c.Exec("CREATE ROLE peeker LOGIN");
    c.Exec("GRANT USAGE ON SCHEMA crosswalk TO peeker");
    pq::Connection peeker(cluster.Dsn("app") + " user=peeker");
    peeker.Exec("SELECT crosswalk.new_canonical_id()");  // loads the module
    EXPECT_EQ(SqlStateOf(peeker, "SHOW crosswalk.master_key_command"), "42501");
  }
}

TEST(Encryption, MatchKeysAgreeAcrossServersWithTheSameMasterKey) {
  MasterKeyFile shared_a(TestMasterKeyHex(5)), shared_b(TestMasterKeyHex(5)), other(TestMasterKeyHex(6));
  Cluster a({shared_a.ConfLine()}), b({shared_b.ConfLine()}), c({other.ConfLine()});
  for (Cluster* cl : {&a, &b, &c}) cl->CreateDatabaseWithExtension("platform");
  auto ca = a.Connect("platform"), cb = b.Connect("platform"), cc = c.Connect("platform");
  const std::string q = "SELECT encode(crosswalk.match_key($1, $2), 'hex')";
  std::string ka = *ca.ExecParams(q, {"Ada@Example.org", "email"}).get(0, 0);
  EXPECT_EQ(ka.size(), 64u);
  EXPECT_EQ(*cb.ExecParams(q, {" ada@example.ORG\t", "email"}).get(0, 0), ka);
  EXPECT_NE(*cc.ExecParams(q, {"ada@example.org", "email"}).get(0, 0), ka);
  EXPECT_EQ(*ca.ExecParams(q, {"+1 (555) 010-0000", "phone"}).get(0, 0),
            *cb.ExecParams(q, {"15550100000", "phone"}).get(0, 0));
}

TEST(Encryption, UpgradeFrom010Through020KeepsIdentitiesAndAddsEncryption) {
  MasterKeyFile key(TestMasterKeyHex(7));
  Cluster cluster({key.ConfLine()});
  cluster.Connect().Exec("CREATE DATABASE old");
  auto c = cluster.Connect("old");
  c.Exec("CREATE EXTENSION crosswalk VERSION '0.1.0'");
  c.Exec("SELECT crosswalk.register_platform('learnhub')");
  std::string person = *c.Scalar("SELECT crosswalk.link('learnhub', '42')");
  EXPECT_EQ(SqlStateOf(c, "SELECT crosswalk.create_key('k')"), "42883");
  c.Exec("ALTER EXTENSION crosswalk UPDATE TO '0.2.0'");  // the ledger
  EXPECT_EQ(SqlStateOf(c, "SELECT crosswalk.create_key('k')"), "42883");
  c.Exec("ALTER EXTENSION crosswalk UPDATE TO '0.3.0'");  // encryption
  EXPECT_EQ(*c.Scalar("SELECT extversion FROM pg_extension WHERE extname = 'crosswalk'"), "0.3.0");
  EXPECT_EQ(*c.Scalar("SELECT crosswalk.resolve('learnhub', '42')"), person);
  c.ExecParams("SELECT crosswalk.create_key('k', 'aes-256-gcm', $1)", {person});
  EXPECT_EQ(*c.Scalar("SELECT crosswalk.decrypt(crosswalk.encrypt('after upgrade', 'k'))"), "after upgrade");
  // That every upgrade path ends in exactly the schema of a fresh install
  // (functions, definer flags, privileges, tables) is upgrade_test's job, for
  // every version at once.
}

// Tens of megabytes through encrypt/decrypt as bind parameters. (The 1 GB
// limit itself is checked by arithmetic in tests/unit/envelope_test.cpp.)
TEST(Encryption, LargeValues) {
  MasterKeyFile key(TestMasterKeyHex(8));
  Cluster cluster({key.ConfLine()});
  cluster.CreateDatabaseWithExtension("app");
  auto c = cluster.Connect("app");
  c.Exec("SELECT crosswalk.create_key('k'), crosswalk.create_key('d', 'aes-256-siv')");
  c.Exec("CREATE TABLE big (id int, v crosswalk.encrypted)");
  std::string value(40 * 1024 * 1024, 'x');
  for (std::size_t i = 0; i < value.size(); i += 4096) value[i] = static_cast<char>('a' + (i / 4096) % 26);
  c.ExecParams("INSERT INTO big VALUES (1, crosswalk.encrypt($1, 'k', 'big')), (2, crosswalk.encrypt($1, 'd', 'big'))",
               {value});
  EXPECT_EQ(
      *c.ExecParams("SELECT count(*) FROM big WHERE md5(crosswalk.decrypt(v, 'big')) = md5($1)", {value}).get(0, 0),
      "2");
  // Stored out of line and uncompressed (pg_column_size counts an external
  // value's data without its header): the envelope is the plaintext + 50
  // bytes (GCM) / + 38 (SIV).
  EXPECT_EQ(*c.Scalar("SELECT string_agg(pg_column_size(v)::text, ',' ORDER BY id) FROM big"),
            std::to_string(value.size() + 50) + "," + std::to_string(value.size() + 38));
  // Its text form round-trips too.
  EXPECT_EQ(*c.Scalar("SELECT count(*) FROM big WHERE v::text::crosswalk.encrypted = v"), "2");
  EXPECT_EQ(*c.Scalar("SELECT count(*) FROM big WHERE crosswalk.decrypt(v, 'wrong') IS NOT NULL AND false"), "0");
}

}  // namespace
}  // namespace crosswalk::test
