#include "transform/IdMapper.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "cdc/model/Uuid.h"
#include "transform/Sha1.h"

namespace pgmorph {
namespace {

// The example pipeline's namespace (deploy/examples/dispatch/mapping.yaml).
const Uuid kNs = Uuid::parse("8d3e2f4a-1c5b-4e7a-9b1f-3c2d4e5f6a7b");

std::string hex(const Sha1::Digest& d) {
  static const char* digits = "0123456789abcdef";
  std::string s;
  for (auto b : d) {
    s.push_back(digits[b >> 4]);
    s.push_back(digits[b & 15]);
  }
  return s;
}

Sha1::Digest sha1(std::string_view s) {
  Sha1 h;
  h.update(s);
  return h.finish();
}

// Runs a test once per compression implementation available on this CPU (the portable one
// always; the SHA extensions one where the CPU has them), restoring the default after.
class Sha1Test : public ::testing::TestWithParam<Sha1::Implementation> {
 protected:
  void SetUp() override {
    original_ = Sha1::implementation();
    if (Sha1::useImplementation(GetParam()) != GetParam())
      GTEST_SKIP() << "this CPU has no SHA extensions";
  }
  void TearDown() override { Sha1::useImplementation(original_); }
  Sha1::Implementation original_ = Sha1::Implementation::Portable;
};

INSTANTIATE_TEST_SUITE_P(Implementations, Sha1Test,
                         ::testing::Values(Sha1::Implementation::Portable,
                                           Sha1::Implementation::ShaExtensions),
                         [](const auto& info) {
                           return info.param == Sha1::Implementation::Portable ? "Portable"
                                                                               : "ShaExtensions";
                         });

// FIPS 180-2 appendix A vectors, plus lengths around the 55/56/64-byte padding edges
// (computed with python3: hashlib.sha1(b"a" * n).hexdigest()).
TEST_P(Sha1Test, MatchesTheStandardVectors) {
  EXPECT_EQ(hex(sha1("")), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
  EXPECT_EQ(hex(sha1("abc")), "a9993e364706816aba3e25717850c26c9cd0d89d");
  EXPECT_EQ(hex(sha1("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")),
            "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
  EXPECT_EQ(hex(sha1(std::string(55, 'a'))), "c1c8bbdc22796e28c0e15163d20899b65621d65a");
  EXPECT_EQ(hex(sha1(std::string(56, 'a'))), "c2db330f6083854c99d4b5bfb6e8f29f201be699");
  EXPECT_EQ(hex(sha1(std::string(64, 'a'))), "0098ba824b5c16427bd7a1122a5a442a25ec644d");
  EXPECT_EQ(hex(sha1(std::string(1000000, 'a'))), "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
}

TEST_P(Sha1Test, FeedingInPiecesEqualsFeedingAtOnce) {
  std::string text(300, '\0');
  for (std::size_t i = 0; i < text.size(); ++i) text[i] = static_cast<char>(i * 7 + 3);
  for (std::size_t cut : {0, 1, 20, 55, 63, 64, 65, 130, 299}) {
    Sha1 h;
    h.update(std::string_view(text).substr(0, cut));
    Sha1 copy = h;  // a prefix state is reusable by copy: what IdMapper relies on
    copy.update(std::string_view(text).substr(cut));
    EXPECT_EQ(hex(copy.finish()), hex(sha1(text))) << "cut at " << cut;
  }
}

// Vectors computed with python3 (uuid.uuid5(uuid.UUID("8d3e2f4a-1c5b-4e7a-9b1f-3c2d4e5f6a7b"),
// name), which encodes the name as UTF-8) and checked against PostgreSQL 15's uuid-ossp
// (SELECT uuid_generate_v5('8d3e2f4a-...'::uuid, name)) for the first three.
TEST_P(Sha1Test, IdsEqualUuidGenerateV5OfKnownNames) {
  IdMapper ids(kNs);
  EXPECT_EQ(ids.id("dispatch_office", "42").str(), "7e45f430-8668-5c4a-8f1d-be1d80f72aa3");
  EXPECT_EQ(ids.id("dispatch_instruction", "12345678901234").str(),
            "4659be8f-30c2-5599-a1e6-4b4c6d0a4c0b");
  EXPECT_EQ(ids.id("dispatch_user", "7").str(), "d77d2feb-54f3-513d-8007-88e54d8b045e");
  EXPECT_EQ(ids.id("dispatch_user", "").str(), "c339f334-b629-507c-9693-5eaa538a96e8");
  EXPECT_EQ(ids.id("dispatch_user", "Jos\xc3\xa9").str(), "4ccc38ee-4f56-529f-af45-306fb8aa8382");
  // Longer than one SHA-1 block.
  EXPECT_EQ(ids.id("dispatch_notification", std::string(100, 'x')).str(),
            "8abd2227-544c-547f-90f5-e85f1e1335f4");
  // A schema-qualified name, as written in the file, is part of the name.
  EXPECT_EQ(ids.id("legacy.dispatch_office", "42").str(), "98f0d253-204e-53f3-8bbf-841c54b72c8d");
}

TEST(IdMapper, CompositeKeysEscapeBackslashAndCommaThenJoinWithComma) {
  // 'a,b' + 'c' -> "t:a\,b,c" and 'a' + 'b,c' -> "t:a,b\,c" (python3 uuid.uuid5 vectors).
  IdMapper ids(kNs);
  std::vector<std::string_view> first = {"a,b", "c"};
  std::vector<std::string_view> second = {"a", "b,c"};
  EXPECT_EQ(IdMapper::compositeKey(first), "a\\,b,c");
  EXPECT_EQ(IdMapper::compositeKey(second), "a,b\\,c");
  EXPECT_EQ(ids.id("t", first).str(), "c53deb17-7586-52d6-8ba6-b24f3d8454e6");
  EXPECT_EQ(ids.id("t", second).str(), "f467859a-5e10-574a-a179-f05ec9945a95");
  EXPECT_NE(ids.id("t", first), ids.id("t", second));
  // The composite form is the single-key form of its joined text.
  EXPECT_EQ(ids.id("t", first), ids.id("t", "a\\,b,c"));

  std::vector<std::string_view> slash = {"a\\", "b"};
  std::vector<std::string_view> slashComma = {"a\\,b"};
  EXPECT_EQ(IdMapper::compositeKey(slash), "a\\\\,b");
  EXPECT_EQ(IdMapper::compositeKey(slashComma), "a\\\\\\,b");
  EXPECT_NE(ids.id("t", slash), ids.id("t", std::vector<std::string_view>{"a", "b"}));
}

TEST_P(Sha1Test, IdsAgreeWithBoostUuidOnRandomNames) {
  // uuidV5 (Uuid.h) is Boost.Uuid's generator: an independent implementation.
  IdMapper ids(kNs);
  std::mt19937 rng(42);
  for (int n = 0; n < 300; ++n) {
    std::string table = "t" + std::to_string(n % 17);
    std::string key(rng() % 140, '\0');
    for (auto& c : key) c = static_cast<char>(rng() % 256);
    EXPECT_EQ(ids.forTable(table)(key), uuidV5(kNs, table + ":" + key)) << "length " << key.size();
  }
}

TEST(IdMapper, TheMemoNeverReturnsAnotherKeysId) {
  // Many keys through one TableIds, twice (hits, and slots evicted by collisions), against
  // fresh computations; plus keys too long to be remembered and keys that share a prefix.
  IdMapper ids(kNs);
  const IdMapper::TableIds& shared = ids.shared("dispatch_user");
  EXPECT_EQ(&shared, &ids.shared("dispatch_user"));
  EXPECT_NE(&shared, &ids.shared("dispatch_office"));
  // More keys than the memo has slots, so that slots are shared and evicted.
  for (int round = 0; round < 2; ++round)
    for (int i = 0; i < 20000; ++i) {
      std::string key = std::to_string(i * 7919 % 20000);
      if (i % 10 == 0) key += std::string(30, 'k');  // longer than the memo keeps
      if (i % 7 == 0) key = key.substr(0, 1);        // shorter keys sharing a first digit
      ASSERT_EQ(shared(key), uuidV5(kNs, "dispatch_user:" + key)) << key;
    }
}

TEST(IdMapper, IdsAreVersion5Rfc4122) {
  Uuid u = IdMapper(kNs).id("dispatch_office", "1");
  EXPECT_EQ(u.bytes[6] >> 4, 5);
  EXPECT_EQ(u.bytes[8] >> 6, 2);
}

}  // namespace
}  // namespace pgmorph
