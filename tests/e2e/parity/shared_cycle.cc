// shared_ptr cycles: two peers owning each other, and a session that keeps itself alive
// through a member. An observer that points back with weak_ptr is freed (no leak).
// make_shared puts the control block (16 B) and the object in one allocation.
//   Peer pair: 2 x (16 + 24) B from new_peer: mpshim and valgrind report one direct and
//   one indirect; LeakSanitizer reports both indirect.
//   Session (16 + 16 + 64) B = 96 B referencing itself: direct for every tool.
// Expected: direct 136 B in 2 blocks, indirect 40 B in 1 block, operator new.
#include <memory>

#include "leakprog.h"

struct Peer {
  std::shared_ptr<Peer> other;
  long id;
};

struct Session {
  std::shared_ptr<Session> self;  // "keep alive until closed", never closed
  char buf[64];
};

struct Subject;
struct Observer {
  std::weak_ptr<Subject> subject;
};
struct Subject {
  std::shared_ptr<Observer> observer;
};

LEAK_FN std::shared_ptr<Peer> new_peer(long id) {
  auto p = std::make_shared<Peer>();  // @peer
  p->id = id;
  return p;
}

LEAK_FN void make_pair() {
  auto a = new_peer(1);
  auto b = new_peer(2);
  a->other = b;
  b->other = a;
}

LEAK_FN void open_session() {
  auto s = std::make_shared<Session>();  // @session
  s->self = s;
}

LEAK_FN void observe() {
  auto s = std::make_shared<Subject>();
  s->observer = std::make_shared<Observer>();
  s->observer->subject = s;
}

int main() {
  make_pair();
  open_session();
  observe();
  scrub_stack();
  return 0;
}
