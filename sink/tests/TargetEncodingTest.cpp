// A target database in LATIN1: pgmorph speaks UTF-8 to it and the server converts; a row with a
// character LATIN1 lacks is refused and parked with PostgreSQL's message — which needs the
// parked row's values stored in a form LATIN1 holds — and lands once the source fixes it.
#include <gtest/gtest.h>

#include "sink/tests/ParkingFixture.h"

namespace pgmorph::parkingtest {
namespace {

class Latin1TargetTest : public ParkingTest {
 protected:
  std::string createTargetDatabase() override {
    std::string name = test::sharedTarget().createDatabase("latin1");
    test::sharedTarget().dropDatabase(name);
    test::sharedTarget().psql("postgres", fmt::format("CREATE DATABASE \"{}\" ENCODING 'LATIN1' "
                                                      "LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE "
                                                      "template0",
                                                      name));
    return name;
  }
  static Change named(std::string id, std::string firstName, ChangeKind kind) {
    return makeChange(
        kind, "dispatch_user",
        {num("id", id), str("email", "user" + id + "@example.com"), str("first_name", firstName),
         str("last_name", "Müller"), num("office_id", "1"),
         Col{"is_active", "1", ValueKind::Number, "smallint"}, ts("date_joined")},
        kind == ChangeKind::Update ? std::initializer_list<Col>{num("id", id)}
                                   : std::initializer_list<Col>{});
  }
};

TEST_F(Latin1TargetTest, ARowWithACharacterTheTargetLacksIsParkedAndLandsOnceFixed) {
  EXPECT_EQ(conn_->exec("SHOW server_encoding").value(0, 0), "LATIN1");
  EXPECT_EQ(conn_->exec("SHOW client_encoding").value(0, 0), "UTF8");
  txn({office("1")});
  txn({named("1", "Zoë", ChangeKind::Insert), named("2", "Smiley 😀", ChangeKind::Insert),
       named("3", "Åsa", ChangeKind::Insert)});
  // Converted by the server: what LATIN1 has arrives as the same letters.
  EXPECT_EQ(column("profiles", idOf("dispatch_user", "1"), "first_name"), "Zoë");
  EXPECT_EQ(column("profiles", idOf("dispatch_user", "3"), "last_name"), "Müller");
  EXPECT_FALSE(exists("profiles", idOf("dispatch_user", "2")));
  auto rows = parked();
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].kind, ParkKind::Refused);
  EXPECT_EQ(rows[0].legacyKey, "2");
  EXPECT_EQ(rows[0].sqlstate, "22P05");  // untranslatable_character
  EXPECT_NE(rows[0].reason.find("LATIN1"), std::string::npos) << rows[0].reason;

  // The source fixes the name: the update merges into the parked row and lands.
  txn({named("2", "Smiley", ChangeKind::Update)});
  EXPECT_EQ(column("profiles", idOf("dispatch_user", "2"), "first_name"), "Smiley");
  EXPECT_EQ(column("profiles", idOf("dispatch_user", "2"), "last_name"), "Müller");
  EXPECT_EQ(parkedCount(), 0);
}

}  // namespace
}  // namespace pgmorph::parkingtest
