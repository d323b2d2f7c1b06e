// VerifyPauseStore: the hand-shake between `pgmorph verify` and a follower that is streaming
// the same pipeline, kept in the target's state schema (table verify_pause, one row per
// pipeline while a verify runs) and signalled with NOTIFY on channel channel().
//
// The protocol (verify writes requests, the follower answers):
//   verify   request(hold)        "finish the source transaction you are in, commit, and hold"
//   follower answer(holding, C)   committed up to checkpoint C, not applying
//   verify   request(advance, L)  "apply every source transaction committing before L, then hold"
//   follower answer(at_fence, C)  the target holds exactly what the source had at L
//   verify   release()            (after taking its target snapshot) row deleted: go on
// A request carries a lease (expires_at, target clock): a follower whose verify went away
// (killed, disconnected) stops holding once it expires, and says so.
//
// Contract: each call is one autocommit statement (or runs in the caller's transaction);
// NOTIFY is delivered at commit.
#pragma once

#include <optional>
#include <string>

#include "cdc/model/Lsn.h"
#include "cdc/pg/PgConnection.h"

namespace pgmorph {

enum class PauseState { Hold, Holding, Advance, AtFence };
std::string_view toString(PauseState state);

struct PauseRow {
  PauseState state = PauseState::Hold;
  std::optional<Lsn> fence;  // Advance / AtFence
  Lsn checkpoint;            // Holding / AtFence: the follower's committed checkpoint
  bool expired = false;      // the lease has run out (target clock)
  int requesterPid = 0;      // verify's process id, for messages
};

class VerifyPauseStore {
 public:
  VerifyPauseStore(std::string stateSchema, std::string pipeline);

  void ensureSchema(PgConnection& target) const;
  bool exists(PgConnection& target) const;
  // The LISTEN/NOTIFY channel of this pipeline (an identifier: quote it in LISTEN).
  std::string channel() const;

  // verify's side.
  void request(PgConnection& target, PauseState state, std::optional<Lsn> fence,
               int leaseSeconds) const;
  void release(PgConnection& target) const;
  // Moves the lease's end to `leaseSeconds` from now (verify, while it waits).
  void extend(PgConnection& target, int leaseSeconds) const;
  // follower's side: only moves a row that is still in `from` (a released row stays gone).
  void answer(PgConnection& target, PauseState from, PauseState to, Lsn checkpoint) const;

  std::optional<PauseRow> read(PgConnection& target) const;

 private:
  std::string table(PgConnection& target) const;
  void notify(PgConnection& target) const;

  std::string schema_;
  std::string pipeline_;
};

}  // namespace pgmorph
