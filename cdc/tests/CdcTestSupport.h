// Test support for the cdc tests: the shared source cluster configured as a wal2json
// source, a fixture that gives each test a fresh database (and drops its slots and the
// database afterwards), unique slot names, and polling with a deadline.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <string>
#include <string_view>

#include "tests/support/PgCluster.h"

namespace pgmorph::test {

// The shared source cluster, set up as a DBA sets up a wal2json source: PostgreSQL
// 15.19+ lets only the plugins named in output_plugin_libraries decode, and its default
// (pgoutput, test_decoding) leaves wal2json out. The setting is added once per process
// (ALTER SYSTEM + reload); it is not restored, since every user of this cluster in this
// process needs it.
PgCluster& wal2jsonSource();

// Adds wal2json to output_plugin_libraries of `cluster` if missing, and waits until new
// sessions see it.
void allowWal2json(PgCluster& cluster);

// A slot name unique to this process and call ("pgmorph_<prefix>_<random>").
std::string uniqueSlotName(std::string_view prefix);

// Polls `condition` every few milliseconds until it holds or `timeout` passes; returns
// its last value.
bool waitFor(const std::function<bool()>& condition,
             std::chrono::milliseconds timeout = std::chrono::seconds(10));

// Drops every slot of `database` (terminating walsenders still holding one) so the
// database can be dropped.
void dropSlotsOf(PgCluster& cluster, const std::string& database);

// A fresh source database per test, dropped with its slots in TearDown.
class SourceDatabaseTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;
  std::string conninfo() const { return source().conninfo(db_); }
  PgCluster& source() const { return wal2jsonSource(); }

  std::string db_;
};

}  // namespace pgmorph::test
