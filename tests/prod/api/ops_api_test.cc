// Operations routes and the HTTP metrics every route records.
#include <gtest/gtest.h>

#include "api_test_support.h"
#include "prod/metrics/prometheus_metrics.h"

namespace chatscale::api::test {
namespace {

TEST(OpsApi, HealthReadinessAndMetrics) {
  ApiHarness h;
  Status ready = Status::ok();
  PrometheusMetrics prometheus("prod");
  h.ctx.readiness = [&] { return ready; };
  h.ctx.metrics_text = [&] { return prometheus.serialize_text(); };

  EXPECT_EQ(h.call("GET", "/healthz").status, 200);
  EXPECT_EQ(h.call("GET", "/readyz").status, 200);
  ready = unavailable("database: connection refused");
  Reply not_ready = h.call("GET", "/readyz");
  EXPECT_EQ(not_ready.status, 503);
  EXPECT_EQ(not_ready.json()["reason"], "database: connection refused");

  prometheus.add(MetricId::kMessages, {"free", "ok"}, 1);
  Reply metrics = h.call("GET", "/metrics");
  ASSERT_EQ(metrics.status, 200);
  EXPECT_EQ(metrics.header("content-type"), "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_NE(metrics.body.find("# TYPE chatscale_messages_total counter"), std::string::npos);
  EXPECT_NE(metrics.body.find("chatscale_messages_total{mode=\"prod\",outcome=\"ok\",tier=\"free\"} 1"), std::string::npos)
      << metrics.body.substr(0, 2000);
}

TEST(OpsApi, EveryRouteRecordsRequestsByRouteAndCode) {
  ApiHarness h;
  h.call("GET", "/healthz");
  h.call("GET", "/me");
  h.call("GET", "/no/such/route");
  EXPECT_EQ(h.metrics.value(MetricId::kHttpRequests, {"GET /healthz", "200"}), 1);
  EXPECT_EQ(h.metrics.value(MetricId::kHttpRequests, {"GET /me", "401"}), 1);
  EXPECT_EQ(h.metrics.histogram(MetricId::kHttpRequestDuration, {"GET /me"}).count, 1);
}

}  // namespace
}  // namespace chatscale::api::test
