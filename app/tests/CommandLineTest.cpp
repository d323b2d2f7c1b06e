// The command line as a person meets it, through the real binary: --version, an unknown
// command named with the list of commands, every usage error exits 2 (not CLI11's own codes),
// and a pipeline file that cannot be read is named with the operating system's reason, by
// every command.
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "app/tests/BinaryRun.h"

namespace pgmorph {
namespace {

using test::BinaryRun;

std::string base() {
  return fmt::format("/tmp/pgmorph-cli-{}-{}", ::getpid(),
                     ::testing::UnitTest::GetInstance()->current_test_info()->name());
}

void expectHas(const std::string& text, const std::string& what) {
  EXPECT_NE(text.find(what), std::string::npos) << "missing: " << what << "\n" << text;
}

TEST(CommandLine, VersionPrintsTheVersionAndExitsZero) {
  std::string out, err;
  EXPECT_EQ(BinaryRun::run({"--version"}, base(), &out, &err), 0) << err;
  EXPECT_EQ(out.rfind(std::string("pgmorph ") + PGMORPH_EXPECTED_VERSION, 0), 0u) << out;
  EXPECT_EQ(out.back(), '\n');
}

TEST(CommandLine, AnUnknownCommandIsNamedWithTheCommands) {
  std::string err;
  EXPECT_EQ(BinaryRun::run({"frobnicate"}, base(), nullptr, &err), 2);
  expectHas(
      err,
      "unknown command 'frobnicate'; the commands are: check, status, verify, cutover, follow, "
      "replay, snapshot, run, journal, rehearse, parked");
  // Options before it do not hide it.
  EXPECT_EQ(
      BinaryRun::run({"--log-level", "debug", "folow", "-c", "x.yaml"}, base(), nullptr, &err), 2);
  expectHas(err, "unknown command 'folow'");
}

// CLI11 exits 105, 106, 109, ... for usage errors; pgmorph's documented code is 2.
TEST(CommandLine, EveryUsageErrorExitsTwo) {
  const std::vector<std::vector<std::string>> cases = {
      {},                                           // no command
      {"follow"},                                   // -c missing (CLI11: 106)
      {"--log-level", "loud", "check", "-c", "x"},  // not a level (CLI11: 105)
      {"follow", "-c", "x", "extra"},               // an extra argument (CLI11: 109)
      {"follow", "-c", "x", "--progress-interval", "0"},
      {"check", "--no-such-flag", "-c", "x"},
  };
  for (const auto& args : cases) {
    std::string err;
    EXPECT_EQ(BinaryRun::run(args, base(), nullptr, &err), 2)
        << fmt::format("{}", fmt::join(args, " ")) << "\n"
        << err;
  }
  std::string out;
  EXPECT_EQ(BinaryRun::run({"--help"}, base(), &out, nullptr), 0);
  expectHas(out, "--version");
}

// `-c /tmp` said "the file is empty"; a missing file said "cannot read" without a reason.
TEST(CommandLine, AnUnreadablePipelineFileIsNamedWithTheReasonByEveryCommand) {
  struct Case {
    std::string path, reason;
  };
  for (const Case& c : {Case{"/tmp", "Is a directory"},
                        Case{"/nonexistent/pipeline.yaml", "No such file or directory"}}) {
    std::string expected = fmt::format("cannot read pipeline file '{}': {}", c.path, c.reason);
    for (std::string command : {"follow", "snapshot", "run", "check", "status", "verify"}) {
      std::string out, err;
      EXPECT_EQ(BinaryRun::run({command, "-c", c.path}, base(), &out, &err), 2) << command;
      expectHas(out + err, expected);
    }
    std::string err;
    EXPECT_EQ(BinaryRun::run({"parked", "list", "-c", c.path}, base(), nullptr, &err), 2);
    expectHas(err, expected);
  }
}

}  // namespace
}  // namespace pgmorph
