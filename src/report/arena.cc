#include "report/arena.h"

#include <cstring>

namespace mpshim::report {

namespace {
constexpr size_t kChunk = 1 << 20;
}

struct Arena::Chunk {
  Chunk* next;
  size_t size;  // bytes mapped, this header included
};

void* Arena::alloc(size_t size) {
  size = (size + 15) & ~size_t(15);
  if (size > size_t(end_ - cur_)) {
    // A fresh chunk; a request larger than a chunk gets one of its own size.
    size_t need = size + 16 > kChunk ? size + 16 : kChunk;
    need = (need + prim::page_size() - 1) & ~(prim::page_size() - 1);
    auto* c = static_cast<Chunk*>(prim::os_map(need));
    if (c == nullptr) return nullptr;
    c->next = head_;
    c->size = need;
    head_ = c;
    cur_ = reinterpret_cast<char*>(c) + 16;
    end_ = reinterpret_cast<char*>(c) + need;
  }
  void* p = cur_;
  cur_ += size;
  return p;
}

char* Arena::dup(const char* s, size_t n) {
  char* p = static_cast<char*>(alloc(n + 1));
  if (p == nullptr) return nullptr;
  memcpy(p, s, n);
  p[n] = '\0';
  return p;
}

char* Arena::dup(const char* s) { return dup(s, strlen(s)); }

void Arena::release() {
  while (head_ != nullptr) {
    Chunk* next = head_->next;
    prim::os_unmap(head_, head_->size);
    head_ = next;
  }
  cur_ = end_ = nullptr;
}

}  // namespace mpshim::report
