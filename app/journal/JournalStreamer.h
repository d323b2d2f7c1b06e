// JournalStreamer: one `pgmorph journal` session from connect to disconnect. Streams the slot
// (ReplicationStream, wal2json with follow's heartbeat prefix) into the journal through
// JournalTee and confirms to the source only what the journal holds durably:
//
//   - the flush position reported to the source is JournalWriter::durableEnd(), never end()
//     and never what was merely received (invariant 2 with the journal as the durable side);
//   - sync() is batched: at most every kSyncInterval or every kSyncBytes appended, and when
//     idle with something unsynced;
//   - an idle source still moves: when a heartbeat comes back (or a keepalive says the server
//     has sent past the journal's end) with no transaction in flight, the journal records that
//     position (JournalWriter::advance), syncs and confirms it — the walsender sends every
//     transaction in commit order, so nothing commits unseen before that position.
//
// Where it starts: the journal's end (the tee skips what the slot resends and the journal holds
// already). An empty journal starts at the slot's confirmed position (or the consistent point
// of the slot it creates, without a snapshot). It refuses (Operator) when the slot has
// confirmed past the journal's end — the changes in between are in neither — and when a
// non-empty journal has no slot any more.
//
// Retention (applyRetention) runs every options.retentionInterval; a consumer whose unapplied
// changes it deleted is logged at error level by name. Errors are thrown; JournalCommand
// decides whether to retry.
#pragma once

#include <boost/asio/io_context.hpp>

#include <functional>
#include <set>
#include <string>

#include "app/StopFlag.h"
#include "app/journal/JournalCommand.h"
#include "state/journal/Journal.h"
#include "transform/Config.h"

namespace pgmorph {

class JournalStreamer {
 public:
  JournalStreamer(const PipelineConfig& config, JournalWriter& writer, boost::asio::io_context& io,
                  const StopFlag& stop, std::set<std::string>& forced);
  // Streams until a stop is requested (returns) or the session fails (throws).
  // `onStreaming` is called once the stream has started.
  void run(const JournalCommandOptions& options, const std::function<void()>& onStreaming);

 private:
  // Where streaming starts, creating the slot when absent; refuses a journal/slot mismatch.
  Lsn resolveStart();

  const PipelineConfig& config_;
  JournalWriter& writer_;
  boost::asio::io_context& io_;
  const StopFlag& stop_;
  // Consumers retention has forced past and that have not caught up since: reported once.
  std::set<std::string>& forced_;
};

}  // namespace pgmorph
