// Grouping, ordering, totals, suppressions, caps and the text, JSON and folded outputs.
#include <chrono>
#include <cstring>
#include <gtest/gtest.h>
#include <sstream>
#include <string>
#include <unistd.h>
#include <vector>

#include "common.h"
#include "cpu/stats.h"
#include "json.h"
#include "report/leaks.h"
#include "report/suppress.h"
#include "report/symbolize.h"

using namespace mpshim::report;
using mpshim::track::Kind;
using mpshim::track::kind_name;

namespace {

std::vector<std::string> lines(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

size_t count_of(const std::string& s, const std::string& what) {
  size_t n = 0;
  for (size_t p = s.find(what); p != std::string::npos; p = s.find(what, p + 1)) ++n;
  return n;
}

// Stacks: 0 = site_a called from outer, 1 = site_b, 2 = an unknown address.
struct Fixture : ::testing::Test {
  rt::FakeStacks stacks;
  uint32_t sa, sb, unknown;
  std::vector<Block> blocks;
  rt::TempFile file;
  ReportOptions o;

  void SetUp() override {
    sa = stacks.add({rt::site_a(), rt::outer()});
    sb = stacks.add({rt::site_b()});
    unknown = stacks.add({0x10});
    o.fd = file.fd();
    o.pid = 4242;
    o.exe = "/bin/prog";
  }
  void add(uint32_t stack, Kind k, LeakClass c, uint64_t size, int count = 1) {
    for (int i = 0; i < count; ++i) blocks.push_back(Block{size, stack, k, c});
  }
  // The standard mix: direct 30 B in 3 + 5 B in 1 (site_a, two kinds) and 100 B in 1
  // (site_b); indirect 32 B in 2 (unknown); reachable 1000 B in 1 (site_b).
  void standard() {
    add(sa, Kind::Malloc, LeakClass::Direct, 10, 3);
    add(sb, Kind::New, LeakClass::Direct, 100);
    add(sa, Kind::New, LeakClass::Direct, 5);
    add(unknown, Kind::Calloc, LeakClass::Indirect, 16, 2);
    add(sb, Kind::Malloc, LeakClass::Reachable, 1000);
  }
  bool run(Totals* t) { return write_leak_report_to(blocks.data(), blocks.size(), o, t); }
};

}  // namespace

TEST_F(Fixture, GroupsOrderAndTotals) {
  standard();
  Totals t;
  EXPECT_TRUE(run(&t));
  EXPECT_EQ(t.bytes[0], 135u);
  EXPECT_EQ(t.blocks[0], 5u);
  EXPECT_EQ(t.groups[0], 3u);
  EXPECT_EQ(t.bytes[1], 32u);
  EXPECT_EQ(t.blocks[1], 2u);
  EXPECT_EQ(t.groups[1], 1u);
  EXPECT_EQ(t.bytes[2], 1000u);
  EXPECT_EQ(t.groups_total, 4u);  // reachable not listed by default
  EXPECT_EQ(t.groups_listed, 4u);
  EXPECT_EQ(t.suppressed_blocks, 0u);

  std::string r = file.read();
  auto l = lines(r);
  ASSERT_GE(l.size(), 3u);
  EXPECT_EQ(l[0], "==4242== mpshim: leak report");
  EXPECT_EQ(l[1], "");
  std::string titles;
  for (auto& s : l)
    if (s.find(" leak of ") != std::string::npos || s.rfind("Still", 0) == 0) titles += s + "\n";
  EXPECT_EQ(titles,
            "Direct leak of 100 byte(s) in 1 object(s) allocated with " + std::string(kind_name(Kind::New)) +
                " from:\n"
                "Direct leak of 30 byte(s) in 3 object(s) allocated with " + kind_name(Kind::Malloc) + " from:\n"
                "Direct leak of 5 byte(s) in 1 object(s) allocated with " + kind_name(Kind::New) + " from:\n"
                "Indirect leak of 32 byte(s) in 2 object(s) allocated with " + kind_name(Kind::Calloc) +
                " from:\n");
  EXPECT_EQ(l.back(),
            "SUMMARY: mpshim: 167 byte(s) leaked in 7 allocation(s): direct 135 B in 5, "
            "indirect 32 B in 2 (4 of 4 groups listed) in prog");
}

TEST_F(Fixture, TextFrames) {
  add(sa, Kind::Malloc, LeakClass::Direct, 8);
  add(unknown, Kind::Malloc, LeakClass::Indirect, 4);
  run(nullptr);
  auto l = lines(file.read());
  const SymInfo* a = symbolize(rt::site_a());
  std::ostringstream want0, want1;
  want0 << "    #0 0x" << std::hex << rt::site_a() << " in rt::site_a() " << a->module << "+0x" << a->offset
        << " " << rt::kThisFile << ":" << std::dec << rt::site_a_line;
  const SymInfo* o = symbolize(rt::outer());
  want1 << "    #1 0x" << std::hex << rt::outer() << " in rt::outer() " << o->module << "+0x" << o->offset
        << " " << rt::kThisFile << ":" << std::dec << rt::outer_line;
  ASSERT_GE(l.size(), 9u);
  EXPECT_EQ(l[3].substr(0, 5), "    #");
  // site_a's frame line ends with the file path as compiled; compare without it when the
  // compiler recorded a relative path.
  EXPECT_NE(l[3].find(" in rt::site_a() "), std::string::npos) << l[3];
  EXPECT_NE(l[3].find(":" + std::to_string(rt::site_a_line)), std::string::npos) << l[3];
  EXPECT_NE(l[3].find(std::string(a->module) + "+0x"), std::string::npos) << l[3];
  EXPECT_NE(l[4].find(" in rt::outer() "), std::string::npos) << l[4];
  if (a->frame.file != nullptr && strcmp(a->frame.file, rt::kThisFile) == 0) {
    EXPECT_EQ(l[3], want0.str());
    EXPECT_EQ(l[4], want1.str());
  }
  EXPECT_EQ(l[5], "");
  EXPECT_EQ(l[6], "Indirect leak of 4 byte(s) in 1 object(s) allocated with " + std::string(kind_name(Kind::Malloc)) +
                      " from:");
  EXPECT_EQ(l[7], "    #0 0x10 in ??");
}

TEST_F(Fixture, UnknownFunctionShowsModuleOffset) {
  uintptr_t lo, hi;
  const char* path;
  ASSERT_TRUE(module_of(reinterpret_cast<uintptr_t>(&rt::site_a), &lo, &hi, &path));
  uint32_t s = stacks.add({lo + 1});  // the ELF header: no function there
  add(s, Kind::Malloc, LeakClass::Direct, 1);
  run(nullptr);
  auto l = lines(file.read());
  std::ostringstream want;
  want << "    #0 0x" << std::hex << lo + 1 << " in ?? " << path << "+0x1";
  ASSERT_GE(l.size(), 4u);
  EXPECT_EQ(l[3], want.str());
}

TEST_F(Fixture, NoLeaks) {
  Totals t;
  EXPECT_FALSE(run(&t));
  EXPECT_EQ(file.read(),
            "==4242== mpshim: no leaks found\n\n"
            "SUMMARY: mpshim: 0 byte(s) leaked in 0 allocation(s): direct 0 B in 0, indirect 0 B in 0 "
            "(0 of 0 groups listed) in prog\n");
}

TEST_F(Fixture, ReachableOnlyIsNoLeak) {
  add(sb, Kind::Malloc, LeakClass::Reachable, 2048, 2);
  o.reachable = true;
  Totals t;
  EXPECT_FALSE(run(&t));
  std::string r = file.read();
  EXPECT_EQ(lines(r)[0], "==4242== mpshim: no leaks found");
  EXPECT_NE(r.find("Still reachable: 4096 byte(s) in 2 object(s)"), std::string::npos) << r;
  EXPECT_EQ(lines(r).back(),
            "SUMMARY: mpshim: 0 byte(s) leaked in 0 allocation(s): direct 0 B in 0, indirect 0 B in 0, "
            "reachable 4.0 KiB in 2 (1 of 1 groups listed) in prog");
}

TEST_F(Fixture, ReachableListedLastWhenEnabled) {
  standard();
  o.reachable = true;
  Totals t;
  run(&t);
  EXPECT_EQ(t.groups_total, 5u);
  std::string r = file.read();
  size_t ind = r.find("Indirect leak of 32");
  size_t reach = r.find("Still reachable: 1000 byte(s) in 1 object(s)");
  ASSERT_NE(reach, std::string::npos);
  EXPECT_LT(ind, reach);
  EXPECT_NE(lines(r).back().find(", reachable 1000 B in 1 (5 of 5 groups listed)"), std::string::npos);
}

TEST_F(Fixture, MaxGroupsCaps) {
  standard();
  o.max_groups = 2;
  Totals t;
  EXPECT_TRUE(run(&t));
  EXPECT_EQ(t.groups_listed, 2u);
  EXPECT_EQ(t.groups_total, 4u);
  std::string r = file.read();
  EXPECT_EQ(count_of(r, " leak of "), 2u);
  EXPECT_NE(r.find("Direct leak of 100 byte(s)"), std::string::npos);
  EXPECT_NE(r.find("Direct leak of 30 byte(s)"), std::string::npos);
  EXPECT_NE(r.find("... 2 more group(s) not listed"), std::string::npos);
  EXPECT_NE(lines(r).back().find("(2 of 4 groups listed)"), std::string::npos);
  // Totals still cover everything.
  EXPECT_NE(lines(r).back().find("167 byte(s) leaked in 7 allocation(s)"), std::string::npos);
}

TEST_F(Fixture, Suppressions) {
  standard();
  Suppressions s;
  const char text[] = "# comment line\n\n  leak:site_a()$\nleak:^no_such_function\n";
  ASSERT_TRUE(s.parse(text, sizeof text - 1));
  ASSERT_EQ(s.size(), 2u);
  o.suppressions = &s;
  Totals t;
  EXPECT_TRUE(run(&t));
  EXPECT_EQ(t.suppressed_bytes, 35u);
  EXPECT_EQ(t.suppressed_blocks, 4u);
  EXPECT_EQ(t.bytes[0], 100u);
  EXPECT_EQ(t.groups_total, 2u);
  EXPECT_EQ(s.hit_blocks(0), 4u);
  EXPECT_EQ(s.hit_bytes(0), 35u);
  EXPECT_EQ(s.hit_blocks(1), 0u);
  std::string r = file.read();
  EXPECT_EQ(r.find("in rt::site_a()"), std::string::npos) << r;
  EXPECT_NE(r.find("Suppressions used:\n  objects    bytes      pattern\n  4          35         site_a()$\n"),
            std::string::npos)
      << r;
  EXPECT_EQ(lines(r).back(),
            "SUMMARY: mpshim: 132 byte(s) leaked in 3 allocation(s): direct 100 B in 1, "
            "indirect 32 B in 2, suppressed 35 B in 4 (2 of 2 groups listed) in prog");
  s.release();
}

TEST_F(Fixture, SuppressingEverythingIsNoLeak) {
  add(sa, Kind::Malloc, LeakClass::Direct, 10);
  Suppressions s;
  ASSERT_TRUE(s.parse("leak:report_test", 16));  // the module path
  o.suppressions = &s;
  EXPECT_FALSE(run(nullptr));
  EXPECT_EQ(lines(file.read())[0], "==4242== mpshim: no leaks found");
  s.release();
}

TEST_F(Fixture, Json) {
  standard();
  o.format = Format::Json;
  o.exe = "/bin/\"quoted\"";
  EXPECT_TRUE(run(nullptr));
  std::string r = file.read();
  json::Value v;
  ASSERT_TRUE(json::Parser(r).parse(&v)) << r;
  EXPECT_EQ(v["mpshim_report"].as_int(), 1);
  EXPECT_EQ(v["pid"].as_int(), 4242);
  EXPECT_EQ(v["exe"].str, "/bin/\"quoted\"");
  const json::Value& s = v["summary"];
  EXPECT_EQ(s["direct"]["bytes"].as_int(), 135);
  EXPECT_EQ(s["direct"]["blocks"].as_int(), 5);
  EXPECT_EQ(s["direct"]["groups"].as_int(), 3);
  EXPECT_EQ(s["indirect"]["bytes"].as_int(), 32);
  EXPECT_EQ(s["reachable"]["bytes"].as_int(), 1000);
  EXPECT_EQ(s["suppressed"]["bytes"].as_int(), 0);
  EXPECT_EQ(s["groups_listed"].as_int(), 4);
  EXPECT_EQ(s["groups_total"].as_int(), 4);
  const json::Value& leaks = v["leaks"];
  ASSERT_EQ(leaks.arr.size(), 4u);
  EXPECT_EQ(leaks[0]["class"].str, "direct");
  EXPECT_EQ(leaks[0]["bytes"].as_int(), 100);
  EXPECT_EQ(leaks[0]["count"].as_int(), 1);
  EXPECT_EQ(leaks[0]["function"].str, kind_name(Kind::New));
  const json::Value& f = leaks[0]["stack"][0];
  EXPECT_EQ(f["function"].str, "rt::site_b()");
  EXPECT_EQ(f["line"].as_int(), rt::site_b_line);
  EXPECT_EQ(f["file"].type, json::Value::String);
  const SymInfo* si = symbolize(rt::site_b());
  EXPECT_EQ(f["module"].str, si->module);
  EXPECT_EQ(std::stoull(f["pc"].str, nullptr, 16), rt::site_b());
  EXPECT_EQ(std::stoull(f["offset"].str, nullptr, 16), si->offset);
  EXPECT_EQ(leaks[1]["stack"].arr.size(), 2u);
  EXPECT_EQ(leaks[1]["stack"][1]["function"].str, "rt::outer()");
  const json::Value& u = leaks[3];
  EXPECT_EQ(u["class"].str, "indirect");
  EXPECT_EQ(u["stack"][0]["function"].type, json::Value::Null);
  EXPECT_EQ(u["stack"][0]["module"].type, json::Value::Null);
  EXPECT_EQ(u["stack"][0]["file"].type, json::Value::Null);
  EXPECT_EQ(u["stack"][0]["line"].type, json::Value::Null);
}

TEST_F(Fixture, JsonCapAndSuppressions) {
  standard();
  o.format = Format::Json;
  o.max_groups = 1;
  Suppressions s;
  ASSERT_TRUE(s.parse("leak:*site_b*\n", 14));
  o.suppressions = &s;
  run(nullptr);
  json::Value v;
  std::string r = file.read();
  ASSERT_TRUE(json::Parser(r).parse(&v)) << r;
  EXPECT_EQ(v["summary"]["suppressed"]["bytes"].as_int(), 100);
  EXPECT_EQ(v["summary"]["suppressed"]["blocks"].as_int(), 1);
  EXPECT_EQ(v["summary"]["groups_listed"].as_int(), 1);
  EXPECT_EQ(v["summary"]["groups_total"].as_int(), 3);
  ASSERT_EQ(v["leaks"].arr.size(), 1u);
  EXPECT_EQ(v["leaks"][0]["bytes"].as_int(), 30);
  ASSERT_EQ(v["suppressions"].arr.size(), 1u);
  EXPECT_EQ(v["suppressions"][0]["pattern"].str, "*site_b*");
  s.release();
}

TEST_F(Fixture, Folded) {
  standard();
  rt::TempFile folded;
  o.folded_fd = folded.fd();
  run(nullptr);
  EXPECT_EQ(folded.read(),
            "rt::site_b() 100\n"
            "rt::outer();rt::site_a() 30\n"
            "rt::outer();rt::site_a() 5\n"
            "0x10 32\n");
}

// Device, managed and pinned blocks: grouped apart from host blocks of the same stack and
// function, named in every output.
TEST_F(Fixture, MemoryKinds) {
  using mpshim::track::Memory;
  blocks.push_back(Block{64, sb, Kind::CuMemAlloc, LeakClass::Direct, Memory::Device});
  blocks.push_back(Block{64, sb, Kind::CuMemAlloc, LeakClass::Direct, Memory::Device});
  blocks.push_back(Block{40, sb, Kind::CuMemAllocManaged, LeakClass::Indirect, Memory::Managed});
  blocks.push_back(Block{30, sb, Kind::CuMemAllocHost, LeakClass::Direct, Memory::Pinned});
  blocks.push_back(Block{30, sb, Kind::CuMemAllocHost, LeakClass::Direct, Memory::Host});
  rt::TempFile folded;
  o.folded_fd = folded.fd();
  Totals t;
  EXPECT_TRUE(run(&t));
  EXPECT_EQ(t.groups_total, 4u);  // pinned and host apart though stack and kind are equal
  std::string titles;
  for (auto& l : lines(file.read()))
    if (l.find(" leak of ") != std::string::npos) titles += l + "\n";
  EXPECT_EQ(titles,
            "Direct leak of 128 byte(s) in 2 object(s) of device memory allocated with cuMemAlloc from:\n"
            "Direct leak of 30 byte(s) in 1 object(s) allocated with cuMemAllocHost from:\n"
            "Direct leak of 30 byte(s) in 1 object(s) of pinned memory allocated with cuMemAllocHost from:\n"
            "Indirect leak of 40 byte(s) in 1 object(s) of managed memory allocated with cuMemAllocManaged from:\n");
  EXPECT_EQ(folded.read(),
            "rt::site_b();[device memory] 128\n"
            "rt::site_b() 30\n"
            "rt::site_b();[pinned memory] 30\n"
            "rt::site_b();[managed memory] 40\n");

  rt::TempFile json_file;
  o.fd = json_file.fd();
  o.format = Format::Json;
  o.folded_fd = -1;
  run(nullptr);
  std::string r = json_file.read();
  json::Value v;
  ASSERT_TRUE(json::Parser(r).parse(&v)) << r;
  const json::Value& leaks = v["leaks"];
  ASSERT_EQ(leaks.arr.size(), 4u);
  EXPECT_EQ(leaks[0]["memory"].str, "device");
  EXPECT_EQ(leaks[0]["function"].str, "cuMemAlloc");
  EXPECT_EQ(leaks[1]["memory"].str, "host");
  EXPECT_EQ(leaks[2]["memory"].str, "pinned");
  EXPECT_EQ(leaks[3]["memory"].str, "managed");
}

TEST(ExpandPath, Pid) {
  char buf[64];
  ASSERT_TRUE(expand_path("/tmp/leaks.%p.txt", 1234, buf, sizeof buf));
  EXPECT_STREQ(buf, "/tmp/leaks.1234.txt");
  ASSERT_TRUE(expand_path("%p-%%p-%x", 7, buf, sizeof buf));
  EXPECT_STREQ(buf, "7-%p-%x");
  EXPECT_FALSE(expand_path("/a/very/long/path/%p", 123456, buf, 12));
}

// A million blocks over 10,000 sites of 16 frames: grouping and sorting stay fast.
TEST(Scale, MillionBlocks) {
  rt::FakeStacks stacks;
  uintptr_t base = rt::site_a();
  for (uint32_t s = 0; s < 10000; ++s) {
    std::vector<uintptr_t> pcs(16, base);
    pcs[0] = 0x1000 + s;  // distinct, unknown: symbolised quickly
    stacks.add(pcs);
  }
  std::vector<Block> blocks;
  blocks.reserve(1000000);
  for (uint32_t i = 0; i < 1000000; ++i)
    blocks.push_back(Block{(i % 10000) + 1u, (i * 7919u) % 10000u, Kind::Malloc, LeakClass::Direct});
  rt::TempFile file;
  ReportOptions o;
  o.fd = file.fd();
  Totals t;
  symbolize(base);  // reads the debug info first: timed in the symbolisation tests
  auto t0 = std::chrono::steady_clock::now();
  write_leak_report_to(blocks.data(), blocks.size(), o, &t);
  double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  printf("report of 1,000,000 blocks in 10,000 groups of 16 frames: %.3f s\n", sec);
  EXPECT_EQ(t.blocks[0], 1000000u);
  EXPECT_EQ(t.groups[0], 10000u);
  EXPECT_EQ(t.groups_listed, 10000u);
  if (rt::timing_checked()) {
    EXPECT_LT(sec, 5.0);
  }
}

// The report the issue sets a target for: 10,000 sites with 16 distinct frames each, one
// block per site, from a cold symbol cache (reading debug info included).
TEST(Scale, TenThousandDistinctSites) {
  uintptr_t lo, hi;
  rt::code_range(&lo, &hi);
  ASSERT_LT(lo, hi);
  rt::FakeStacks stacks;
  std::vector<Block> blocks;
  const size_t sites = 10000, depth = 16, n = sites * depth;
  for (uint32_t s = 0; s < sites; ++s) {
    std::vector<uintptr_t> pcs;
    for (size_t f = 0; f < depth; ++f) pcs.push_back(lo + 1 + ((s * depth + f) * (hi - lo - 1)) / n);
    blocks.push_back(Block{s + 1u, stacks.add(pcs), Kind::Malloc, LeakClass::Direct});
  }
  for (Format format : {Format::Text, Format::Json}) {
    symbolize_reset();
    rt::TempFile file;
    ReportOptions o;
    o.fd = file.fd();
    o.format = format;
    Totals t;
    auto t0 = std::chrono::steady_clock::now();
    write_leak_report_to(blocks.data(), blocks.size(), o, &t);
    double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::string r = file.read();
    printf("%s report of 10,000 sites x 16 distinct frames, cold: %.3f s, %zu bytes\n",
           format == Format::Text ? "text" : "JSON", sec, r.size());
    EXPECT_EQ(t.groups_listed, sites);
    EXPECT_EQ(symbolize_cached(), n);
    if (rt::timing_checked()) {
      EXPECT_LT(sec, 5.0);
    }
  }
}

TEST(Stats, Table) {
  mpshim::cpu::Stats s{};
  s.allocated = 1536 * 1024;
  s.peak = 20u << 20;
  s.mallocs = 1234567;
  s.frees = 12;
  s.class_size[1] = 16;
  s.class_count[1] = 5000;
  s.class_live[1] = 7;
  s.class_count[mpshim::cpu::kStatClasses - 1] = 3;
  rt::TempFile f;
  write_stats_to(f.fd(), s);
  std::string r = f.read();
  auto l = lines(r);
  EXPECT_NE(l[0].find("mpshim: statistics"), std::string::npos);
  EXPECT_NE(r.find("  allocated         1.5 MiB"), std::string::npos) << r;
  EXPECT_NE(r.find("  peak              20.0 MiB"), std::string::npos) << r;
  EXPECT_NE(r.find("  mallocs           1,234,567"), std::string::npos) << r;
  EXPECT_NE(r.find("  frees             12 "), std::string::npos) << r;
  EXPECT_EQ(count_of(r, "\n  1      16 B"), 1u) << r;
  EXPECT_EQ(count_of(r, "\n  large  "), 1u) << r;
  EXPECT_EQ(count_of(r, "5,000"), 1u);
  // Every description starts in the same column.
  size_t col = l[1].find("bytes in live blocks");
  EXPECT_EQ(l[2].find("highest value of allocated"), col);
}
