// What `pgmorph cutover` is asked to do (README: "The cutover gate").
#pragma once

#include <cstdint>
#include <string>

namespace pgmorph {

struct CutoverOptions {
  // The source is quiet once no mapped table was written and no session held a write
  // transaction open for this many seconds in a row.
  double quietSeconds = 10;
  // How long to wait for that before the answer is no-go (at least quietSeconds).
  double maxWaitSeconds = 60;
  // ALTER DATABASE <source db> SET default_transaction_read_only = on before waiting (new
  // sessions only; undone with ALTER DATABASE ... RESET default_transaction_read_only).
  bool setSourceReadOnly = false;
  // pg_terminate_backend() every session that holds a write transaction open, instead of
  // waiting for it to end.
  bool terminateWriters = false;
  // Where report.md and report.json go ("" = printed only).
  std::string reportDir;
  // How far past what the data holds the target's sequences are set.
  std::int64_t sequenceMargin = 1000;
  // Differences listed per table in the verify section.
  std::uint64_t maxDifferences = 20;
};

}  // namespace pgmorph
