// CheckReport: what `pgmorph check` found — every finding of one run (not the first), and the
// plan it would follow — and its two renderings: a human report grouped by side and table,
// each finding a sentence with the file:line of the mapping entry it concerns and what to do,
// and a stable JSON form for machines.
//
// Contract: findings are only added; nothing is dropped or merged. hasErrors() decides the
// exit code (0 nothing blocks, 1 an error). Severity: an error blocks (a run would lose or
// refuse changes); a warning is advice (exit 0); info is part of the plan.
//
// JSON (stable; keys only ever added, never renamed or removed):
//   { "version": 1, "file": "<pipeline file>", "status": "ok" | "problems",
//     "counts": { "error": n, "warning": n, "info": n },
//     "findings": [ { "severity": "error" | "warning" | "info",
//                     "side": "file" | "source" | "target" | "slot",
//                     "table": "schema.table" | "",  "column": "name" | "",
//                     "file": "<pipeline file>", "line": n (0: not one entry),
//                     "message": "...", "action": "..." (what to do; "" when nothing) } ],
//     "plan": { "tables": [ { "source": "schema.table", "line": n,
//                             "targets": [ { "table": "schema.table", "mode": "upsert" | "update",
//                                            "line": n } ] } ],
//               "levels": [ [ "schema.table", ... ], ... ],        (parents first)
//               "cycles": [ { "tables": [...], "constraints": [ { "name": "...",
//                             "table": "schema.table", "deferrable": bool } ],
//                             "deferrable": bool } ],
//               "slot": { "name": "...", "exists": bool, "plugin": "...", "active": bool,
//                         "wal_status": "...", "confirmed_flush_lsn": "X/X" | null,
//                         "retained_wal_bytes": n | null, "checkpoint_lsn": "X/X" | null } } }
//   When the check could not run (exit 2): { "version": 1, "file": "...", "status": "unchecked",
//   "error": "<why>" }.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cdc/model/Lsn.h"

namespace pgmorph {

enum class Severity { Error, Warning, Info };
enum class Side { File, Source, Target, Slot };  // File: the pipeline file itself

struct Finding {
  Severity severity = Severity::Error;
  Side side = Side::Source;
  std::string table;   // "schema.table" the finding concerns, "" for the database as a whole
  std::string column;  // "" when it is not about one column
  int line = 0;        // line of the mapping entry in the pipeline file; 0 when none
  std::string message;
  std::string action;  // what to do; "" when nothing is to be done
};

struct PlanTarget {
  std::string table;     // "schema.table"
  bool partial = false;  // mode: update
  int line = 0;
};

struct PlanSource {
  std::string table;  // "schema.table"
  int line = 0;
  std::vector<PlanTarget> targets;
};

struct PlanCycleKey {
  std::string name, table;
  bool deferrable = false;
};

struct PlanCycle {
  std::vector<std::string> tables;
  std::vector<PlanCycleKey> constraints;
  bool deferrable = false;
};

struct PlanSlot {
  std::string name;
  bool exists = false;
  std::string plugin, walStatus;
  bool active = false;
  std::optional<Lsn> confirmedFlush, checkpoint;
  std::optional<std::uint64_t> retainedWalBytes;
};

struct CheckPlan {
  std::vector<PlanSource> tables;
  std::vector<std::vector<std::string>> levels;
  std::vector<PlanCycle> cycles;
  PlanSlot slot;
};

class CheckReport {
 public:
  explicit CheckReport(std::string file) : file_(std::move(file)) {}

  void add(Finding finding) { findings_.push_back(std::move(finding)); }
  CheckPlan& plan() { return plan_; }
  const CheckPlan& plan() const { return plan_; }
  const std::vector<Finding>& findings() const { return findings_; }
  const std::string& file() const { return file_; }

  int count(Severity severity) const;
  bool hasErrors() const { return count(Severity::Error) > 0; }

  // The human report: a headline, the findings grouped by side and table (errors first in
  // each group), then the plan.
  std::string text() const;
  // The JSON form documented above.
  std::string json() const;
  // The JSON of a check that could not run.
  static std::string uncheckedJson(const std::string& file, const std::string& why);

  // One finding as one sentence: "<file>:<line>: <table>.<column>: <message>. <action>".
  std::string sentence(const Finding& finding) const;

 private:
  std::string file_;
  std::vector<Finding> findings_;
  CheckPlan plan_;
};

std::string_view toString(Severity severity);
std::string_view toString(Side side);

}  // namespace pgmorph
