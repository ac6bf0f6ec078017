// The extension's install and upgrade scripts: installing the oldest version
// and walking every upgrade script must give exactly the objects a fresh
// install of the newest version gives; DROP EXTENSION must leave nothing of
// the extension behind (the roles stay: they are cluster-wide; so does the
// then empty schema, which PostgreSQL never makes a member of the extension
// whose control file names it).
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <regex>
#include <string>
#include <vector>

#include "cluster.hpp"

namespace crosswalk::test {
namespace {

namespace fs = std::filesystem;

// Versions with a full install script (crosswalk--X.sql), oldest first.
std::vector<std::string> InstallScriptVersions() {
  std::vector<std::string> versions;
  std::regex full(R"(crosswalk--(\d+\.\d+\.\d+)\.sql)");
  for (const auto& e : fs::directory_iterator(std::string(CROSSWALK_SOURCE_DIR) + "/extension")) {
    std::smatch m;
    std::string name = e.path().filename().string();
    if (std::regex_match(name, m, full)) versions.push_back(m[1]);
  }
  std::sort(versions.begin(), versions.end());
  return versions;
}

// Every object that belongs to the extension, with its definition where it
// has one, as one sorted text.
const char* kExtensionObjects = R"sql(
  SELECT string_agg(d, E'\n' ORDER BY d) FROM (
    SELECT pg_describe_object(classid, objid, 0) ||
           CASE WHEN classid = 'pg_proc'::regclass THEN
                  ' ' || md5(pg_get_functiondef(objid)) || ' ' ||
                  (SELECT coalesce(array_to_string(proacl, ','), '') FROM pg_proc WHERE oid = objid)
                WHEN classid = 'pg_class'::regclass THEN
                  ' ' || (SELECT coalesce(array_to_string(relacl, ','), '') FROM pg_class WHERE oid = objid) ||
                  ' ' || coalesce((SELECT string_agg(attname || ':' || format_type(atttypid, atttypmod), ',' ORDER BY attnum)
                          FROM pg_attribute WHERE attrelid = objid AND attnum > 0 AND NOT attisdropped), '')
                ELSE '' END AS d
      FROM pg_depend
     WHERE refclassid = 'pg_extension'::regclass AND deptype = 'e'
       AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'crosswalk')) s
)sql";

TEST(Upgrade, EveryPathEndsWhereAFreshInstallDoes) {
  Cluster cluster;
  auto admin = cluster.Connect();
  admin.Exec("CREATE DATABASE fresh");
  auto fresh = cluster.Connect("fresh");
  fresh.Exec("CREATE EXTENSION crosswalk");
  std::string newest = *fresh.Scalar("SELECT extversion FROM pg_extension WHERE extname = 'crosswalk'");
  std::string expected = *fresh.Scalar(kExtensionObjects);
  ASSERT_FALSE(expected.empty());

  auto versions = InstallScriptVersions();
  ASSERT_FALSE(versions.empty()) << "no extension/crosswalk--X.sql install script";
  for (const auto& start : versions) {
    std::string db = "from_" + std::regex_replace(start, std::regex("\\."), "_");
    admin.Exec("CREATE DATABASE " + db);
    auto c = cluster.Connect(db);
    c.Exec("CREATE EXTENSION crosswalk VERSION '" + start + "'");
    c.Exec("ALTER EXTENSION crosswalk UPDATE");
    EXPECT_EQ(*c.Scalar("SELECT extversion FROM pg_extension WHERE extname = 'crosswalk'"), newest) << start;
    EXPECT_EQ(*c.Scalar(kExtensionObjects), expected) << "upgrading from " << start << " differs from a fresh install";
  }
}

TEST(Upgrade, DropExtensionLeavesNothingBehind) {
  Cluster cluster;
  cluster.Connect().Exec("CREATE DATABASE d");
  auto c = cluster.Connect("d");
  const std::string objects =
      "SELECT (SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
      "         WHERE n.nspname = 'crosswalk') + "
      "       (SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
      "         WHERE n.nspname = 'crosswalk') + "
      "       (SELECT count(*) FROM pg_proc WHERE proname LIKE 'canonical_id%') + "
      "       (SELECT count(*) FROM pg_operator o JOIN pg_type t ON t.oid = o.oprleft WHERE t.typname = 'canonical_id') + "
      "       (SELECT count(*) FROM pg_type WHERE typname = 'canonical_id')";
  EXPECT_EQ(*c.Scalar(objects), "0");
  c.Exec("CREATE EXTENSION crosswalk");
  c.Exec("SELECT crosswalk.register_platform('p'); SELECT crosswalk.link('p', '1')");
  EXPECT_NE(*c.Scalar(objects), "0");
  c.Exec("DROP EXTENSION crosswalk");
  EXPECT_EQ(*c.Scalar(objects), "0");
  // Installing again after a drop works (the roles already exist).
  c.Exec("CREATE EXTENSION crosswalk");
  EXPECT_EQ(*c.Scalar("SELECT count(*) FROM crosswalk.account"), "0");
}

}  // namespace
}  // namespace crosswalk::test
