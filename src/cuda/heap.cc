#include "cuda/heap.h"

#include "prim/fmt.h"

namespace mpshim::cuda {

static void add(uint64_t& cur, uint64_t& peak, uint64_t n) {
  cur += n;
  if (cur > peak) peak = cur;
}

// ---- contexts

int Heap::find_slot(Context ctx) {
  if (last_slot_ >= 0 && pools_[last_slot_].ctx == ctx && pools_[last_slot_].used)
    return last_slot_;
  for (unsigned i = 0; i < kMaxContexts; ++i) {
    if (pools_[i].used && pools_[i].ctx == ctx) return last_slot_ = int(i);
  }
  return -1;
}

int Heap::slot_for(Context ctx, Device dev) {
  int slot = find_slot(ctx);
  if (slot >= 0) return slot;
  for (unsigned i = 0; i < kMaxContexts; ++i) {
    if (pools_[i].used) continue;
    pools_[i] = Pools{};
    pools_[i].ctx = ctx;
    pools_[i].dev = dev;
    pools_[i].used = true;
    devices_used_ |= uint64_t(1) << dev_index(dev);
    return last_slot_ = int(i);
  }
  return -1;
}

// ---- blocks

Block* Heap::take(int slot, PoolKind k, uint64_t rounded, uint64_t requested) {
  Block* b = pools_[slot].free[int(k)].lower_bound(rounded);
  if (b == nullptr || !fits(b->size, rounded, max_split)) return nullptr;
  return carve(b, k, rounded, requested);
}

Block* Heap::carve(Block* b, PoolKind k, uint64_t rounded, uint64_t requested) {
  Segment* s = b->seg;
  FreeTree& tree = pools_[s->slot].free[int(k)];
  if (!live_.insert(b)) return nullptr;
  tree.erase(b);
  if (should_split(k, b->size, rounded, max_split)) {
    // Without a record for the rest the block is handed out whole.
    if (auto* r = static_cast<Block*>(blocks_.get()); r != nullptr) {
      r->addr = b->addr + rounded;
      r->size = b->size - rounded;
      r->seg = s;
      r->state = BlockState::Free;
      r->prev = b;
      r->next = b->next;
      if (b->next != nullptr) b->next->prev = r;
      b->next = r;
      b->size = rounded;
      tree.insert(r);
    }
  }
  b->state = BlockState::Live;
  b->requested = requested;
  ++s->live;
  cached_free_ -= b->size;
  PoolStats& st = stats(int(s->slot), k);
  add(st.allocated, st.peak_allocated, b->size);
  add(st.active, st.peak_active, b->size);
  return b;
}

Block* Heap::add_segment(int slot, PoolKind k, DevPtr base, uint64_t size) {
  auto* s = static_cast<Segment*>(segment_records_.get());
  auto* b = static_cast<Block*>(blocks_.get());
  if (s != nullptr) {
    s->base = base;
    s->size = size;
    s->first = b;
    s->slot = uint32_t(slot);
    s->kind = k;
  }
  if (s == nullptr || b == nullptr || !segments_.insert(s)) {
    if (s != nullptr) segment_records_.put(s);
    if (b != nullptr) blocks_.put(b);
    return nullptr;
  }
  b->addr = base;
  b->size = size;
  b->seg = s;
  b->state = BlockState::Free;
  pools_[slot].free[int(k)].insert(b);
  cached_free_ += size;
  PoolStats& st = stats(slot, k);
  add(st.reserved, st.peak_reserved, size);
  ++st.driver_allocs;
  return b;
}

void Heap::unlink_live(Block* b) {
  live_.erase(b->addr);
  --b->seg->live;
  stats(int(b->seg->slot), b->seg->kind).allocated -= b->size;
}

void Heap::quarantine(Block* b) {
  unlink_live(b);
  Pools& p = pools_[b->seg->slot];
  b->state = BlockState::Quarantined;
  b->qnext = p.unsealed;
  p.unsealed = b;
  p.unsealed_bytes[int(b->seg->kind)] += b->size;
}

void Heap::retire(Block* b) {
  live_.erase(b->addr);  // seg->live keeps counting it: its segment is never released
  stats(int(b->seg->slot), b->seg->kind).allocated -= b->size;
  b->state = BlockState::Retired;
}

void Heap::release_live(Block* b) {
  unlink_live(b);
  stats(int(b->seg->slot), b->seg->kind).active -= b->size;
  make_free(b);
}

void Heap::make_free(Block* b) {
  Segment* s = b->seg;
  FreeTree& tree = pools_[s->slot].free[int(s->kind)];
  b->state = BlockState::Free;
  cached_free_ += b->size;
  if (Block* p = b->prev; p != nullptr && p->state == BlockState::Free) {
    tree.erase(p);
    p->size += b->size;
    p->next = b->next;
    if (b->next != nullptr) b->next->prev = p;
    blocks_.put(b);
    b = p;
  }
  if (Block* n = b->next; n != nullptr && n->state == BlockState::Free) {
    tree.erase(n);
    b->size += n->size;
    b->next = n->next;
    if (n->next != nullptr) n->next->prev = b;
    blocks_.put(n);
  }
  tree.insert(b);
}

// ---- quarantine and fences

void Heap::seal(int slot, Event e) {
  Pools& p = pools_[slot];
  Fence& f = p.fences[(p.fence_first + p.fence_count) % kMaxFences];
  f.event = e;
  f.blocks = p.unsealed;
  for (unsigned k = 0; k < kPoolKinds; ++k) {
    f.bytes[k] = p.unsealed_bytes[k];
    p.sealed_bytes[k] += p.unsealed_bytes[k];
    p.unsealed_bytes[k] = 0;
  }
  p.unsealed = nullptr;
  ++p.fence_count;
}

Event Heap::oldest_fence(int slot) const {
  const Pools& p = pools_[slot];
  return p.fence_count == 0 ? nullptr : p.fences[p.fence_first].event;
}

void Heap::free_list(Block* b) {
  while (b != nullptr) {
    Block* next = b->qnext;
    stats(int(b->seg->slot), b->seg->kind).active -= b->size;
    make_free(b);
    b = next;
  }
}

Event Heap::release_oldest(int slot) {
  Pools& p = pools_[slot];
  Fence& f = p.fences[p.fence_first];
  for (unsigned k = 0; k < kPoolKinds; ++k) p.sealed_bytes[k] -= f.bytes[k];
  free_list(f.blocks);
  Event e = f.event;
  f = Fence{};
  p.fence_first = (p.fence_first + 1) % kMaxFences;
  --p.fence_count;
  return e;
}

void Heap::release_unsealed(int slot) {
  Pools& p = pools_[slot];
  free_list(p.unsealed);
  p.unsealed = nullptr;
  for (unsigned k = 0; k < kPoolKinds; ++k) p.unsealed_bytes[k] = 0;
}

Event Heap::take_spare(int slot) {
  Pools& p = pools_[slot];
  return p.spare_count == 0 ? nullptr : p.spare[--p.spare_count];
}

bool Heap::put_spare(int slot, Event e) {
  Pools& p = pools_[slot];
  if (p.spare_count == kMaxFences) return false;
  p.spare[p.spare_count++] = e;
  return true;
}

// ---- segments

Segment* Heap::largest_unused(int slot, Device dev, uint64_t min_size) const {
  Segment* best = nullptr;
  for (size_t i = 0; i < segments_.size(); ++i) {
    Segment* s = segments_.at(i);
    if (slot >= 0 ? int(s->slot) != slot : dev >= 0 && pools_[s->slot].dev != dev) continue;
    if (s->size >= min_size && unused(s) && (best == nullptr || s->size > best->size)) best = s;
  }
  return best;
}

void Heap::remove_segment(Segment* s) {
  Block* b = s->first;
  pools_[s->slot].free[int(s->kind)].erase(b);
  cached_free_ -= s->size;
  PoolStats& st = stats(int(s->slot), s->kind);
  st.reserved -= s->size;
  ++st.driver_frees;
  segments_.erase(s);
  blocks_.put(b);
  segment_records_.put(s);
}

uint64_t Heap::releasable(int slot) const {
  uint64_t n = 0;
  for (size_t i = 0; i < segments_.size(); ++i) {
    const Segment* s = segments_.at(i);
    if ((slot < 0 || int(s->slot) == slot) && s->live == 0) n += s->size;
  }
  return n;
}

void Heap::forget_context(int slot, void (*forget)(DevPtr, void*), void* arg) {
  for (size_t i = segments_.size(); i-- > 0;) {
    Segment* s = segments_.at(i);
    if (int(s->slot) != slot) continue;
    PoolStats& st = stats(slot, s->kind);
    for (Block* b = s->first; b != nullptr;) {
      Block* next = b->next;
      if (b->state == BlockState::Live) {
        if (forget != nullptr) forget(b->addr, arg);
        live_.erase(b->addr);
        st.allocated -= b->size;
      }
      if (b->state == BlockState::Free)
        cached_free_ -= b->size;
      else
        st.active -= b->size;
      blocks_.put(b);
      b = next;
    }
    st.reserved -= s->size;
    segments_.erase(s);
    segment_records_.put(s);
  }
  pools_[slot] = Pools{};
  last_slot_ = -1;
}

// ---- stats and ranges

void Heap::reset_peaks() {
  for (auto& dev : stats_) {
    for (PoolStats& s : dev) {
      s.peak_allocated = s.allocated;
      s.peak_reserved = s.reserved;
      s.peak_active = s.active;
    }
  }
}

void Heap::for_each_range(void (*fn)(uintptr_t, uintptr_t, void*), void* arg) const {
  blocks_.for_each_mapping(fn, arg);
  segment_records_.for_each_mapping(fn, arg);
  uintptr_t lo, hi;
  live_.mapping(&lo, &hi);
  if (lo != hi) fn(lo, hi, arg);
  segments_.mapping(&lo, &hi);
  if (lo != hi) fn(lo, hi, arg);
  for (size_t i = 0; i < segments_.size(); ++i) {
    const Segment* s = segments_.at(i);
    fn(uintptr_t(s->base), uintptr_t(s->base + s->size), arg);
  }
}

void Heap::print_oom(Device dev, uint64_t size, uint64_t free, uint64_t total) const {
  uint64_t allocated = 0, reserved = 0;
  for (unsigned k = 0; k < kPoolKinds; ++k) {
    allocated += stats_[dev_index(dev)][k].allocated;
    reserved += stats_[dev_index(dev)][k].reserved;
  }
  prim::Writer w(2);
  w.str("mpshim: CUDA out of memory on device ").i64(dev).str(": tried to allocate ");
  w.bytes(size).str("; ").bytes(allocated).str(" allocated, ");
  w.bytes(reserved - allocated).str(" reserved but unallocated, ");
  w.bytes(free).str(" free of ").bytes(total).chr('\n');
}

}  // namespace mpshim::cuda
