// Passwords in connection strings never reach a log line or an error: the
// DSN is masked, and libpq's own messages (which quote a malformed URI
// whole) are scrubbed of every password the DSN holds.
#include <gtest/gtest.h>
#include <libpq-fe.h>

#include "pq.hpp"

namespace crosswalk::pq {
namespace {

TEST(MaskDsn, MasksKeyValueAndUriPasswords) {
  EXPECT_EQ(MaskDsn("host=a password=hunter2 dbname=x"), "host=a password=*** dbname=x");
  EXPECT_EQ(MaskDsn("host=a PASSWORD = 'hun ter\\'2' dbname=x"), "host=a PASSWORD = *** dbname=x");
  EXPECT_EQ(MaskDsn("postgresql://bob:hunter2@db.example:5432/x"), "postgresql://bob:***@db.example:5432/x");
  EXPECT_EQ(MaskDsn("postgres://bob:hunter2@h/x?password=other"), "postgres://bob:***@h/x?password=***");
  // Nothing to mask: unchanged.
  EXPECT_EQ(MaskDsn("host=a dbname=x user=bob"), "host=a dbname=x user=bob");
  EXPECT_EQ(MaskDsn("postgresql://bob@h/x"), "postgresql://bob@h/x");
}

// What libpq itself says about a DSN it cannot parse, scrubbed.
std::string LibpqError(const std::string& dsn) {
  PGconn* conn = PQconnectdb(dsn.c_str());
  std::string msg = PQerrorMessage(conn);
  PQfinish(conn);
  return msg;
}

TEST(ScrubDsnSecrets, RemovesPasswordsLibpqQuotesBack) {
  const std::string broken_uri = "postgresql://bob:Pw-Uri-1@[::1:5432/db";
  std::string raw = LibpqError(broken_uri);
  ASSERT_NE(raw.find("Pw-Uri-1"), std::string::npos)
      << "libpq no longer quotes the URI; the test lost its point: " << raw;
  std::string scrubbed = ScrubDsnSecrets(raw, broken_uri);
  EXPECT_EQ(scrubbed.find("Pw-Uri-1"), std::string::npos) << scrubbed;
  EXPECT_NE(scrubbed.find("bob:***@"), std::string::npos) << scrubbed;
}

TEST(ScrubDsnSecrets, RemovesEveryShapeOfPassword) {
  // A password with an '@' and a space inside a URI libpq cannot parse.
  EXPECT_EQ(ScrubDsnSecrets("see postgresql://bob:a b@c@[::1/db and a b@c", "postgresql://bob:a b@c@[::1/db"),
            "see postgresql://bob:***@[::1/db and ***");
  // Quoted key=value passwords, with and without their quotes in the text.
  EXPECT_EQ(ScrubDsnSecrets("x 'p w' y p w", "host=h password='p w'"), "x *** y ***");
  // A password that libpq parses, echoed anywhere in the message.
  EXPECT_EQ(ScrubDsnSecrets("failed for Sekrit-9", "host=h password=Sekrit-9 port=1"), "failed for ***");
  // No password: the text is unchanged.
  EXPECT_EQ(ScrubDsnSecrets("could not connect", "host=h port=1"), "could not connect");
}

TEST(ScrubDsnSecrets, ConnectionErrorsCarryNoPassword) {
  for (std::string dsn : {"postgresql://bob:Pw-Conn-2@[::1:5432/db", "host=127.0.0.1 port=1 password=Pw-Conn-2",
                          "postgresql://bob:Pw-Conn-2@127.0.0.1:1/db?sslmode=bogus"}) {
    try {
      Connection c(dsn);
      ADD_FAILURE() << "connected to " << dsn;
    } catch (const Error& e) {
      std::string what = e.what();
      EXPECT_EQ(what.find("Pw-Conn-2"), std::string::npos) << what;
      EXPECT_NE(what.find("could not connect"), std::string::npos) << what;
    }
  }
}

}  // namespace
}  // namespace crosswalk::pq
