#include "sim/db/wal_history.h"

#include <gtest/gtest.h>

namespace chatscale::sim {
namespace {

TEST(WalHistoryTest, PositionIsLinearBetweenCommits) {
  WalHistory h;
  h.append(1.0, 1000);
  h.append(3.0, 3000);
  EXPECT_EQ(h.position_at(0.0), 0u);
  EXPECT_EQ(h.position_at(0.5), 500u);
  EXPECT_EQ(h.position_at(1.0), 1000u);
  EXPECT_EQ(h.position_at(2.0), 2000u);
  EXPECT_EQ(h.position_at(10.0), 3000u);
}

TEST(WalHistoryTest, TimeOfInvertsPositionAndIsNowWhenCaughtUp) {
  WalHistory h;
  h.append(1.0, 1000);
  h.append(3.0, 3000);
  EXPECT_DOUBLE_EQ(h.time_of(2000, 5.0), 2.0);
  EXPECT_DOUBLE_EQ(h.time_of(3000, 5.0), 5.0);  // has everything: not behind at all
  EXPECT_DOUBLE_EQ(h.time_of(2500, 2.0), 2.0);  // ahead of what was committed at now
  // A replica holding what the primary had at now - d is d behind.
  EXPECT_NEAR(4.0 - h.time_of(h.position_at(2.5), 4.0), 1.5, 1e-3);
}

TEST(WalHistoryTest, OutOfOrderCommitsKeepPositionMonotone) {
  WalHistory h;
  h.append(2.0, 2000);
  h.append(1.5, 2500);  // committed "earlier" by a shorter service time: merged into the last record
  h.append(3.0, 1000);  // an LSN below the last: ignored
  EXPECT_EQ(h.position_at(2.0), 2500u);
  EXPECT_EQ(h.position_at(10.0), 2500u);
  EXPECT_EQ(h.size(), 2u);
}

TEST(WalHistoryTest, PruneKeepsWhatAPositionNeeds) {
  WalHistory h;
  for (int i = 1; i <= 10; ++i) h.append(i, static_cast<Lsn>(i) * 100);
  h.prune_below(450);
  EXPECT_EQ(h.size(), 7u);  // records 4 .. 10
  EXPECT_DOUBLE_EQ(h.time_of(450, 20.0), 4.5);
}

TEST(WalHistoryTest, ThinningBoundsMemory) {
  WalHistory h(64);
  for (int i = 1; i <= 10000; ++i) h.append(i * 0.01, static_cast<Lsn>(i) * 10);
  EXPECT_LE(h.size(), 65u);
  EXPECT_EQ(h.last_lsn(), 100000u);
  // Interpolation still holds for a linear stream.
  EXPECT_NEAR(static_cast<double>(h.position_at(50.0)), 50000.0, 20.0);
}

}  // namespace
}  // namespace chatscale::sim
