// What the journal tests share: a temporary directory removed after, numbered transactions
// whose messages say which transaction they belong to, and reading a journal into plain
// values to compare.
#pragma once

#include <stdlib.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "state/journal/Journal.h"

namespace pgmorph::journaltest {

struct TempDir {
  std::filesystem::path path;
  TempDir() {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "pgmorph-journal-XXXXXX").string();
    path = ::mkdtemp(pattern.data());
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

inline JournalOptions options(const std::filesystem::path& dir, std::uint64_t segmentBytes) {
  JournalOptions o;
  o.dir = dir;
  o.segmentBytes = segmentBytes;
  return o;
}

// Transaction n commits at 1000 + n*1000; its messages start at commit - 900.
inline Lsn commitOf(std::uint64_t n) {
  return Lsn(1000 + n * 1000);
}

// A wal2json v2 message of about `bytes` bytes naming its transaction and place.
inline std::string message(std::uint64_t n, std::size_t i, std::size_t bytes = 120) {
  std::string m =
      R"({"action":"I","schema":"public","table":"orders","columns":[{"name":"id","type":"integer","value":)" +
      std::to_string(n) + R"(},{"name":"line","type":"integer","value":)" + std::to_string(i) +
      R"(},{"name":"note","type":"text","value":")";
  if (m.size() + 4 < bytes) m.append(bytes - m.size() - 4, 'x');
  return m + "\"}]}";
}

inline void writeTxn(JournalWriter& w, std::uint64_t n, std::size_t messages,
                     std::size_t bytes = 120) {
  ASSERT_TRUE(w.begin(commitOf(n)));
  for (std::size_t i = 0; i < messages; ++i)
    w.append(Lsn(commitOf(n).value() - 900 + i), message(n, i, bytes));
  w.commit();
}

struct ReadTxn {
  std::uint64_t commit = 0;
  std::vector<std::string> messages;
  bool operator==(const ReadTxn&) const = default;
};

struct ReadAll {
  std::vector<ReadTxn> txns;
  std::vector<std::uint64_t> positions;
};

// Reads until next() has nothing more; checks the record grammar on the way.
inline ReadAll readAll(JournalReader& r) {
  ReadAll out;
  bool inTxn = false;
  while (auto rec = r.next()) {
    switch (rec->kind) {
      case JournalReader::Record::Kind::Begin:
        EXPECT_FALSE(inTxn);
        inTxn = true;
        out.txns.push_back({rec->lsn.value(), {}});
        break;
      case JournalReader::Record::Kind::Message:
        EXPECT_TRUE(inTxn);
        out.txns.back().messages.emplace_back(rec->payload);
        break;
      case JournalReader::Record::Kind::Commit:
        EXPECT_TRUE(inTxn);
        EXPECT_EQ(rec->lsn.value(), out.txns.back().commit);
        inTxn = false;
        break;
      case JournalReader::Record::Kind::Position:
        EXPECT_FALSE(inTxn);
        out.positions.push_back(rec->lsn.value());
        break;
    }
  }
  EXPECT_FALSE(inTxn) << "next() returned nullopt inside a transaction";
  return out;
}

inline ReadTxn expectedTxn(std::uint64_t n, std::size_t messages, std::size_t bytes = 120) {
  ReadTxn t{commitOf(n).value(), {}};
  for (std::size_t i = 0; i < messages; ++i) t.messages.push_back(message(n, i, bytes));
  return t;
}

}  // namespace pgmorph::journaltest
