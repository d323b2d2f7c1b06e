// One source cluster (wal_level=logical, wal2json available) and one target cluster per
// test process, started on first use and stopped when the process exits: tests share
// them and isolate themselves with a fresh database each (PgCluster::createDatabase).
#pragma once

#include "tests/support/PgCluster.h"

namespace pgmorph::test {

PgCluster& sharedSource();
PgCluster& sharedTarget();

}  // namespace pgmorph::test
