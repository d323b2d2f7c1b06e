// JournalFollower: one `follow` session of a pipeline whose source is a journal
// (`source: { journal: DIR }`): the journal's transactions, as `pgmorph journal` (or another
// pipeline's follow) wrote them, applied into this pipeline's own target with its own mapping
// and checkpoint (JournalApply over TransactionApplier: follow's exactly-once rule).
//
// It starts after the target's checkpoint; a target without one starts at the journal's start
// (everything the journal holds). When the journal has nothing new it waits (~150 ms) and looks
// again, checking the stop flag. It records its position as a journal consumer
// (JournalConsumers::record, at most once a second and at the end), which the writer's
// retention respects and `status` shows. A checkpoint the journal no longer covers (retention,
// or a journal started later) ends the session with an Operator error saying which range the
// journal holds and what to do.
//
// It never connects to the source, except to read pg_current_wal_lsn() for progress lines and
// metrics when source.conninfo is given. Errors are thrown; FollowCommand decides.
#pragma once

#include <boost/asio/io_context.hpp>

#include "app/StopFlag.h"
#include "app/follow/ApplyStats.h"
#include "app/follow/FollowOptions.h"
#include "transform/Config.h"

namespace pgmorph {

class JournalFollower {
 public:
  JournalFollower(const PipelineConfig& config, boost::asio::io_context& io, const StopFlag& stop,
                  ApplyStats& stats);
  FollowEnd run(const FollowOptions& options);

  // The operator error for a reader the journal does not cover (JournalGap's range).
  static std::string gapMessage(const PipelineConfig& config, Lsn checkpoint, Lsn start, Lsn end);

 private:
  const PipelineConfig& config_;
  boost::asio::io_context& io_;
  const StopFlag& stop_;
  ApplyStats& stats_;
};

}  // namespace pgmorph
