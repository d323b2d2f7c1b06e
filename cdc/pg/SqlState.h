// SqlState: the SQLSTATE codes pgmorph acts on, by name, and the classes it decides on — the
// one place that knows them (errors are told apart by SQLSTATE, never by message text).
// PgError::classify() turns a code into a retry policy; the sink asks refusesRow() whether a
// failure is the row's fault (isolate and park it) or the statement's / session's.
#pragma once

#include <string_view>

namespace pgmorph::sqlstate {

// Class 02: no data. Set by the sink itself when a SetColumns touched no row.
inline constexpr std::string_view kNoData = "02000";
// Class 08: connection exceptions (the last ones set by pgmorph for protocol surprises).
inline constexpr std::string_view kConnectionDoesNotExist = "08003";
inline constexpr std::string_view kConnectionFailure = "08006";
inline constexpr std::string_view kProtocolViolation = "08P01";
// Class 28: invalid authorization specification (a wrong password, no pg_hba.conf entry, an
// unknown role). libpq 15 gives no SQLSTATE for a failed connection: PgConnection derives these
// (connectFailureSqlstate) so that they are classified here like any other code.
inline constexpr std::string_view kInvalidAuthorizationSpecification = "28000";
inline constexpr std::string_view kInvalidPassword = "28P01";
// Class 3D: invalid catalog name (the database does not exist).
inline constexpr std::string_view kInvalidCatalogName = "3D000";
// Class 0A: feature not supported (TRUNCATE of a table another table's key references).
inline constexpr std::string_view kFeatureNotSupported = "0A000";
// Class 22: data exceptions.
inline constexpr std::string_view kCharacterNotInRepertoire = "22021";  // a NUL byte (sink)
inline constexpr std::string_view kInvalidParameterValue = "22023";
inline constexpr std::string_view kInvalidTextRepresentation = "22P02";
// Class 23: integrity constraint violations.
inline constexpr std::string_view kForeignKeyViolation = "23503";
// Class 25: invalid transaction state.
inline constexpr std::string_view kInFailedSqlTransaction = "25P02";
// Class 55: object not in prerequisite state. 55P03: lock_timeout ran out (apply.sessions > 1 sets
// it, so that two sessions waiting for each other through pgmorph cannot hang).
inline constexpr std::string_view kLockNotAvailable = "55P03";
// Class 40: transaction rollback.
inline constexpr std::string_view kSerializationFailure = "40001";
inline constexpr std::string_view kDeadlockDetected = "40P01";
// Class 42: syntax error or access rule violation.
// 42501 is also how PostgreSQL 15.19+ refuses a logical slot whose plugin output_plugin_libraries
// does not list (CREATE_REPLICATION_SLOT and pg_create_logical_replication_slot alike, for
// superusers too): no code of its own, so SlotManager tells it from other privilege failures by
// asking the setting (SHOW output_plugin_libraries) on the same connection.
inline constexpr std::string_view kInsufficientPrivilege = "42501";
inline constexpr std::string_view kDuplicateObject = "42710";
// Class 53: insufficient resources.
inline constexpr std::string_view kConfigurationLimitExceeded = "53400";
// Class 55: object not in prerequisite state.
inline constexpr std::string_view kObjectNotInPrerequisiteState = "55000";
// 55006 object in use: START_REPLICATION of a slot another walsender streams (ReplicationStream
// says who holds it).
inline constexpr std::string_view kObjectInUse = "55006";
// Class 57: operator intervention (57P01 admin shutdown, 57P03 cannot connect now: the server is
// starting up or shutting down). All retried.
inline constexpr std::string_view kCannotConnectNow = "57P03";
// Class 58: system error.
inline constexpr std::string_view kUndefinedFile = "58P01";
// Class P0: PL/pgSQL (a trigger's RAISE EXCEPTION).
inline constexpr std::string_view kRaiseException = "P0001";

inline bool inClass(std::string_view code, std::string_view cls) {
  return code.starts_with(cls);
}

// The row itself is what the target refuses (its values, its parent, its constraints), as
// opposed to the statement, the session or the server: data exceptions, integrity
// violations, WITH CHECK OPTION, and a trigger's RAISE EXCEPTION.
inline bool refusesRow(std::string_view code) {
  return inClass(code, "22") || inClass(code, "23") || inClass(code, "44") ||
         code == kRaiseException;
}

// An integrity constraint refused it (a key, a unique, a check, NOT NULL).
inline bool isIntegrityViolation(std::string_view code) {
  return inClass(code, "23");
}

// Worth retrying as it is: the connection was lost, the server is shutting down or starting,
// a serialization failure or deadlock, a lock that did not come in time, resources short for the
// moment. Not 53400 (configuration limit exceeded: all replication slots in use, max_wal_senders
// reached), which stays so until an operator raises the limit or frees a slot. Not classes 28
// (authentication), 3D (no such database) or 42 (42501: no privilege): a person must act.
inline bool isTransient(std::string_view code) {
  if (code.empty()) return true;  // libpq lost the connection or could not reach the server
  if (code == kConfigurationLimitExceeded) return false;
  return inClass(code, "08") || inClass(code, "57P") || code == kSerializationFailure ||
         code == kDeadlockDetected || code == kLockNotAvailable || inClass(code, "53");
}

}  // namespace pgmorph::sqlstate
