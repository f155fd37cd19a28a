// redis-server under LD_PRELOAD, driven over TCP by redis-benchmark and redis-cli (run
// without the shim, so a failure points at the server): replies must hold the values
// stored, a forked BGSAVE must write a valid RDB file, the server must shut down cleanly,
// and the shim must print nothing; with tracking on it writes one parseable leak report.
#ifndef BOOST_TEST_DYN_LINK
#define BOOST_TEST_DYN_LINK
#endif
#define BOOST_TEST_MODULE e2e_redis
#include <boost/test/results_collector.hpp>
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <regex>
#include <string>
#include <thread>

#include "harness.h"

namespace {

namespace utf = boost::unit_test;

// The cases need Debian's redis-server and redis-tools; without them they are skipped.
boost::test_tools::assertion_result redis_installed(utf::test_unit_id) {
  for (const char* program : {"redis-server", "redis-cli", "redis-benchmark", "redis-check-rdb"}) {
    if (e2e::which(program).empty()) {
      boost::test_tools::assertion_result missing(false);
      missing.message() << program << " is not installed (apt-get install redis-server redis-tools)";
      return missing;
    }
  }
  return true;
}

// 1 MiB of letters, stored as one value.
std::string big_value() {
  std::string s(1 << 20, ' ');
  for (size_t i = 0; i < s.size(); ++i) s[i] = char('a' + i * 7919 % 26);
  return s;
}

// Commands of every main type, Lua scripts that allocate a lot inside the server, and an
// UNLINK of a big hash (freed by a background thread). Run after `SET big <big_value()>`.
const char kCommands[] =
    "STRLEN big\n"
    "APPEND big xyz\n"
    "SETRANGE big 0 HELLO\n"
    "GETRANGE big 0 9\n"
    "RPUSH list a b c d e\n"
    "LRANGE list 1 3\n"
    "LPOP list\n"
    "HSET h f1 v1 f2 v2 f3 v3\n"
    "HGET h f2\n"
    "SADD s x y z x\n"
    "SISMEMBER s y\n"
    "ZADD z 1 one 2 two 3 three\n"
    "ZINCRBY z 5 one\n"
    "ZRANGE z 0 -1 WITHSCORES\n"
    "INCRBY counter 41\n"
    "INCR counter\n"
    "EVAL \"local t = {} for i = 1, 20000 do t[i] = tostring(i) end "
    "return #table.concat(t, ',')\" 0\n"
    "EVAL \"for i = 1, 50000 do redis.call('SET', 'k' .. i, string.rep('v', i % 100)) end "
    "return redis.call('DBSIZE')\" 0\n"
    "EVAL \"local n = 0 for i = 1, 50000 do n = n + redis.call('STRLEN', 'k' .. i) end "
    "return n\" 0\n"
    "EVAL \"for i = 1, 20000 do redis.call('HSET', 'bighash', 'f' .. i, string.rep('x', i % 50)) "
    "end return redis.call('HLEN', 'bighash')\" 0\n"
    "UNLINK bighash\n"
    "DBSIZE\n";

// redis-cli's replies to kCommands (raw format: its stdout is not a terminal).
std::string expected_replies() {
  std::string big = big_value();
  return "1048576\n"
         "1048579\n"
         "1048579\n"
         "HELLO" + big.substr(5, 5) + "\n"
         "5\nb\nc\nd\n"
         "a\n"
         "3\nv2\n"
         "3\n1\n"
         "3\n6\ntwo\n2\nthree\n3\none\n6\n"
         "41\n42\n"
         "108893\n"
         "50006\n"
         "2475000\n"
         "20000\n1\n"
         "50006\n";
}

// First byte where `got` differs from `want`, for messages about megabyte-sized values.
std::string compare_sizes(const std::string& want, const std::string& got) {
  size_t i = 0;
  while (i < want.size() && i < got.size() && want[i] == got[i]) ++i;
  return "expected " + std::to_string(want.size()) + " bytes, got " + std::to_string(got.size()) +
         ", first difference at byte " + std::to_string(i);
}

void sleep_ms(int ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }

void check_redis(bool tracking) {
  e2e::TempDir dir, reports;
  const std::string port = std::to_string(e2e::free_tcp_port());
  e2e::Command server;
  server.argv = {"redis-server", "--port", port, "--bind", "127.0.0.1", "--save", "",
                 "--appendonly", "no", "--dir", dir.path()};
  server.env = e2e::json_report_env(reports.path());
  if (!tracking) server.env.push_back({"MPSHIM_LEAKS", "0"});
  const std::string how = "server: " + e2e::reproduce(server) + "\n";
  e2e::Background redis(server, dir / "server.log", dir / "server.err");

  // Clients run without the shim; `input` feeds commands, or the value of `-x`.
  auto client = [&](std::vector<std::string> argv, const std::string& input = "") {
    e2e::Command c;
    c.argv = std::move(argv);
    c.argv.insert(c.argv.begin() + 1, {"-h", "127.0.0.1", "-p", port});
    c.preload = false;
    c.stdin_path = input;
    c.timeout_s = 60;
    return e2e::run(c);
  };
  auto cli = [&](std::vector<std::string> args, const std::string& input = "") {
    args.insert(args.begin(), "redis-cli");
    return client(std::move(args), input);
  };

  bool ready = false;
  for (int i = 0; i < 200 && !ready && redis.running(); ++i) {
    ready = cli({"ping"}).out == "PONG\n";
    if (!ready) sleep_ms(50);
  }
  if (!ready) {
    dir.keep();
    e2e::Result r = redis.wait(0);
    BOOST_FAIL(how << "redis-server did not answer PING within 10 s\n" << r.describe());
  }

  e2e::Result bench = client({"redis-benchmark", "-q", "-n", "30000", "-r", "10000", "-P", "16",
                              "-t", "set,get,lpush,lpop,sadd,hset,zadd"});
  BOOST_TEST(bench.ok(), how << bench.describe());
  for (const char* test : {"SET", "GET", "LPUSH", "LPOP", "SADD", "HSET", "ZADD"})
    BOOST_TEST(std::regex_search(bench.out, std::regex(std::string("(^|\\s)") + test +
                                                       ": [0-9.]+ requests per second")),
               "no result for " << test << " in redis-benchmark's output:\n" << bench.out);

  BOOST_TEST(cli({"flushall"}).out == "OK\n");
  const std::string big = big_value();
  e2e::write_file(dir / "big.txt", big);
  BOOST_TEST(cli({"-x", "set", "big"}, dir / "big.txt").out == "OK\n");
  e2e::Result get = cli({"get", "big"});
  BOOST_TEST(get.out == big + "\n", "GET big: " << compare_sizes(big + "\n", get.out));

  e2e::write_file(dir / "commands.txt", kCommands);
  e2e::Result replies = cli({}, dir / "commands.txt");
  BOOST_TEST(replies.ok(), replies.describe());
  BOOST_TEST(replies.out == expected_replies(),
             "replies differ at " << e2e::first_difference(expected_replies(), replies.out));

  // used_memory adds up malloc_usable_size() of every block: it must count the big value.
  e2e::Result info = cli({"info", "memory"});
  std::smatch used;
  BOOST_TEST(std::regex_search(info.out, used, std::regex("used_memory:([0-9]+)")), info.out);
  if (!used.empty())
    BOOST_TEST(std::stoull(used[1].str()) > (1u << 20), "INFO memory:\n" << info.out);

  // BGSAVE forks the server (threads and all) and the child writes the RDB file.
  BOOST_TEST(cli({"bgsave"}).out == "Background saving started\n");
  std::string persistence;
  for (int i = 0; i < 200; ++i) {
    persistence = cli({"info", "persistence"}).out;
    if (persistence.find("rdb_bgsave_in_progress:0") != std::string::npos) break;
    sleep_ms(50);
  }
  BOOST_TEST(persistence.find("rdb_last_bgsave_status:ok") != std::string::npos, persistence);
  e2e::Command check;
  check.argv = {"redis-check-rdb", dir / "dump.rdb"};
  check.preload = false;
  e2e::Result rdb = e2e::run(check);
  BOOST_TEST((rdb.ok() && rdb.out.find("RDB looks OK") != std::string::npos &&
              rdb.out.find("50006 keys read") != std::string::npos),
             rdb.describe());

  cli({"shutdown", "nosave"});
  e2e::Result end = redis.wait(30);
  BOOST_TEST(end.ok(), how << end.describe());
  BOOST_TEST(e2e::shim_lines(end.out + end.err).empty(),
             how << "the shim printed:\n" << e2e::shim_lines(end.out + end.err));

  // One report, from the server (the BGSAVE child leaves with _exit, which skips it).
  std::vector<e2e::LeakReport> found;
  try {
    found = e2e::read_json_reports(reports.path());
  } catch (const std::exception& e) {
    BOOST_ERROR(how << e.what());
  }
  if (!tracking) {
    BOOST_TEST(found.empty(), "MPSHIM_LEAKS=0 wrote " << (found.empty() ? "" : found[0].path));
  } else if (found.size() != 1 || found[0].pid != uint64_t(redis.pid())) {
    BOOST_ERROR(how << found.size() << " leak reports in " << reports.path() << ", expected one "
                    << "from pid " << redis.pid());
  } else {
    // redis frees little at shutdown but keeps it all reachable: a leak would be a false one.
    BOOST_TEST(found[0].direct_bytes + found[0].indirect_bytes == 0u,
               "redis-server reported as leaked: " << e2e::read_file(found[0].path));
  }
  if (utf::results_collector.results(utf::framework::current_test_case().p_id).p_assertions_failed > 0) {
    dir.keep();
    reports.keep();
  }
}

}  // namespace

BOOST_AUTO_TEST_SUITE(redis, *utf::precondition(redis_installed))

BOOST_AUTO_TEST_CASE(server_tracking) { check_redis(true); }
BOOST_AUTO_TEST_CASE(server_leaks_off) { check_redis(false); }

BOOST_AUTO_TEST_SUITE_END()
