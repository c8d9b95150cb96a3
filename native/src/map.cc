#include "map.h"

#include <bpf/libbpf.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "errors.h"

namespace kbp {

Napi::FunctionReference BpfMap::constructor_;

void BpfMap::Init(Napi::Env env, Napi::Object exports) {
  Napi::Function ctor = DefineClass(env, "BpfMap",
                                    {
                                        InstanceAccessor<&BpfMap::GetFd>("fd"),
                                        InstanceAccessor<&BpfMap::GetInfo>("info"),
                                        InstanceMethod<&BpfMap::Lookup>("lookup"),
                                        InstanceMethod<&BpfMap::Update>("update"),
                                        InstanceMethod<&BpfMap::Delete>("delete"),
                                        InstanceMethod<&BpfMap::Keys>("keys"),
                                        InstanceMethod<&BpfMap::Entries>("entries"),
                                        InstanceMethod<&BpfMap::WriteMapped>("writeMapped"),
                                        InstanceMethod<&BpfMap::ReadMapped>("readMapped"),
                                        InstanceMethod<&BpfMap::PatchMapped>("patchMapped"),
                                        InstanceMethod<&BpfMap::UpdateBatch>("updateBatch"),
                                        InstanceMethod<&BpfMap::DeleteBatch>("deleteBatch"),
                                        InstanceMethod<&BpfMap::SetInner>("setInner"),
                                        InstanceMethod<&BpfMap::InnerId>("innerId"),
                                        InstanceMethod<&BpfMap::Close>("close"),
                                    });
  constructor_ = Napi::Persistent(ctor);
  constructor_.SuppressDestruct();
  exports.Set("BpfMap", ctor);
}

Napi::Object BpfMap::Wrap(Napi::Env env, int fd) { return constructor_.New({Napi::Number::New(env, fd)}); }

int BpfMap::FdOf(Napi::Env env, const Napi::Value &value) {
  if (!value.IsObject() || !value.As<Napi::Object>().InstanceOf(constructor_.Value())) {
    ThrowErrno(env, EINVAL, "BpfMap", "an argument that is not a BpfMap");
  }
  return Unwrap(value.As<Napi::Object>())->CheckedFd(env);
}

BpfMap::BpfMap(const Napi::CallbackInfo &info) : Napi::ObjectWrap<BpfMap>(info) {
  fd_ = info[0].As<Napi::Number>().Int32Value();
  uint32_t len = sizeof(info_);
  int err = bpf_obj_get_info_by_fd(fd_, &info_, &len);
  if (err) {
    close(fd_);
    fd_ = -1;
    ThrowErrno(info.Env(), err, "bpf_obj_get_info_by_fd", "a map");
  }
}

BpfMap::~BpfMap() {
  if (fd_ >= 0) close(fd_);
}

std::string BpfMap::Name() const { return std::string("map \"") + info_.name + "\""; }

int BpfMap::CheckedFd(Napi::Env env) const {
  if (fd_ < 0) ThrowErrno(env, EBADF, "BpfMap", Name() + " (closed)");
  return fd_;
}

size_t BpfMap::ValueSize() const {
  switch (info_.type) {
    case BPF_MAP_TYPE_PERCPU_HASH:
    case BPF_MAP_TYPE_PERCPU_ARRAY:
    case BPF_MAP_TYPE_LRU_PERCPU_HASH:
    case BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE:
      return ((info_.value_size + 7) / 8) * 8 * libbpf_num_possible_cpus();
    default:
      return info_.value_size;
  }
}

void BpfMap::CheckLength(Napi::Env env, const Napi::Buffer<uint8_t> &buf, size_t want, const char *what,
                         const char *method) const {
  if (buf.Length() != want) {
    ThrowErrno(env, EINVAL, method,
               Name() + " (" + what + " is " + std::to_string(buf.Length()) + " bytes, expected " +
                   std::to_string(want) + ")");
  }
}

Napi::Value BpfMap::GetFd(const Napi::CallbackInfo &info) { return Napi::Number::New(info.Env(), fd_); }

Napi::Value BpfMap::GetInfo(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  o.Set("name", info_.name);
  o.Set("type", info_.type);
  o.Set("keySize", info_.key_size);
  o.Set("valueSize", info_.value_size);
  o.Set("maxEntries", info_.max_entries);
  o.Set("flags", info_.map_flags);
  o.Set("id", info_.id);
  return o;
}

Napi::Value BpfMap::Lookup(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  auto key = info[0].As<Napi::Buffer<uint8_t>>();
  CheckLength(env, key, info_.key_size, "key", "lookup");
  Napi::Buffer<uint8_t> value = Napi::Buffer<uint8_t>::New(env, ValueSize());
  int err = bpf_map_lookup_elem(CheckedFd(env), key.Data(), value.Data());
  if (err == -ENOENT) return env.Null();
  if (err) ThrowErrno(env, err, "bpf_map_lookup_elem", Name());
  return value;
}

void BpfMap::Update(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  auto key = info[0].As<Napi::Buffer<uint8_t>>();
  auto value = info[1].As<Napi::Buffer<uint8_t>>();
  uint64_t flags = info[2].IsNumber() ? uint64_t(info[2].As<Napi::Number>().Int64Value()) : uint64_t(BPF_ANY);
  CheckLength(env, key, info_.key_size, "key", "update");
  CheckLength(env, value, ValueSize(), "value", "update");
  int err = bpf_map_update_elem(CheckedFd(env), key.Data(), value.Data(), flags);
  if (err) ThrowErrno(env, err, "bpf_map_update_elem", Name());
}

Napi::Value BpfMap::Delete(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  auto key = info[0].As<Napi::Buffer<uint8_t>>();
  CheckLength(env, key, info_.key_size, "key", "delete");
  int err = bpf_map_delete_elem(CheckedFd(env), key.Data());
  if (err == -ENOENT) return Napi::Boolean::New(env, false);
  if (err) ThrowErrno(env, err, "bpf_map_delete_elem", Name());
  return Napi::Boolean::New(env, true);
}

Napi::Value BpfMap::Keys(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  int fd = CheckedFd(env);
  std::vector<uint8_t> prev(info_.key_size), next(info_.key_size);
  Napi::Array out = Napi::Array::New(env);
  const void *cursor = nullptr;
  for (uint32_t i = 0;; i++) {
    int err = bpf_map_get_next_key(fd, cursor, next.data());
    if (err == -ENOENT) break;
    if (err) ThrowErrno(env, err, "bpf_map_get_next_key", Name());
    out.Set(i, Napi::Buffer<uint8_t>::Copy(env, next.data(), next.size()));
    prev.swap(next);
    cursor = prev.data();
  }
  return out;
}

Napi::Value BpfMap::Entries(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  int fd = CheckedFd(env);
  const size_t key_size = info_.key_size, value_size = ValueSize();
  std::vector<uint8_t> keys, values;
  // Hash maps need the batch to hold a whole bucket; ENOSPC asks for a larger one.
  uint32_t chunk = 256;
  uint32_t total = 0;
  std::vector<uint8_t> cursor(8), next_cursor(8);  // opaque batch positions (a u32 for arrays and hashes)
  bool first = true;
  for (;;) {
    uint32_t count = chunk;
    keys.resize((size_t(total) + chunk) * key_size);
    values.resize((size_t(total) + chunk) * value_size);
    LIBBPF_OPTS(bpf_map_batch_opts, opts);
    int err = bpf_map_lookup_batch(fd, first ? nullptr : cursor.data(), next_cursor.data(),
                                   keys.data() + total * key_size, values.data() + total * value_size, &count, &opts);
    if (err == -ENOSPC && count == 0) {
      chunk *= 2;
      continue;
    }
    if (err && err != -ENOENT) ThrowErrno(env, err, "bpf_map_lookup_batch", Name());
    total += count;
    if (err == -ENOENT) break;  // the last batch
    cursor.swap(next_cursor);
    first = false;
  }
  Napi::Object out = Napi::Object::New(env);
  out.Set("keys", Napi::Buffer<uint8_t>::Copy(env, keys.data(), total * key_size));
  out.Set("values", Napi::Buffer<uint8_t>::Copy(env, values.data(), total * value_size));
  out.Set("count", total);
  return out;
}

// An mmapable array's values, as user space sees them: elements of round_up(value_size, 8) bytes.
size_t BpfMap::MappedSize() const { return size_t((info_.value_size + 7) / 8) * 8 * info_.max_entries; }

void BpfMap::WriteMapped(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  auto data = info[0].As<Napi::Buffer<uint8_t>>();
  CheckLength(env, data, MappedSize(), "data", "writeMapped");
  void *mem = mmap(nullptr, data.Length(), PROT_READ | PROT_WRITE, MAP_SHARED, CheckedFd(env), 0);
  if (mem == MAP_FAILED) ThrowErrno(env, errno, "mmap", Name());
  memcpy(mem, data.Data(), data.Length());
  munmap(mem, data.Length());
}

// Rewrites single u32 elements of an mmapable array in place, each with one aligned 32-bit store: a
// reader (a BPF program) sees every element either old or new, never torn.
void BpfMap::PatchMapped(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  auto slots = info[0].As<Napi::Buffer<uint8_t>>();
  auto values = info[1].As<Napi::Buffer<uint8_t>>();
  if (info_.value_size != sizeof(uint32_t)) ThrowErrno(env, EINVAL, "patchMapped", Name() + " (values are not u32)");
  CheckLength(env, values, slots.Length(), "values", "patchMapped");
  size_t size = MappedSize(), stride = size / info_.max_entries, count = slots.Length() / sizeof(uint32_t);
  void *mem = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, CheckedFd(env), 0);
  if (mem == MAP_FAILED) ThrowErrno(env, errno, "mmap", Name());
  for (size_t i = 0; i < count; i++) {
    uint32_t slot, value;
    memcpy(&slot, slots.Data() + i * sizeof(slot), sizeof(slot));
    memcpy(&value, values.Data() + i * sizeof(value), sizeof(value));
    if (slot >= info_.max_entries) continue;  // checked by the caller; never write past the mapping
    __atomic_store_n(reinterpret_cast<uint32_t *>(static_cast<uint8_t *>(mem) + slot * stride), value,
                     __ATOMIC_RELAXED);
  }
  munmap(mem, size);
}

Napi::Value BpfMap::ReadMapped(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  size_t size = MappedSize();
  void *mem = mmap(nullptr, size, PROT_READ, MAP_SHARED, CheckedFd(env), 0);
  if (mem == MAP_FAILED) ThrowErrno(env, errno, "mmap", Name());
  Napi::Buffer<uint8_t> out = Napi::Buffer<uint8_t>::Copy(env, static_cast<uint8_t *>(mem), size);
  munmap(mem, size);
  return out;
}

void BpfMap::UpdateBatch(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  auto keys = info[0].As<Napi::Buffer<uint8_t>>();
  auto values = info[1].As<Napi::Buffer<uint8_t>>();
  uint32_t count = info[2].As<Napi::Number>().Uint32Value();
  uint64_t flags = info[3].IsNumber() ? uint64_t(info[3].As<Napi::Number>().Int64Value()) : uint64_t(BPF_ANY);
  LIBBPF_OPTS(bpf_map_batch_opts, opts, .elem_flags = flags);
  CheckLength(env, keys, size_t(count) * info_.key_size, "keys", "updateBatch");
  CheckLength(env, values, size_t(count) * ValueSize(), "values", "updateBatch");
  if (count == 0) return;
  int err = bpf_map_update_batch(CheckedFd(env), keys.Data(), values.Data(), &count, &opts);
  if (err) ThrowErrno(env, err, "bpf_map_update_batch", Name());
}

void BpfMap::DeleteBatch(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  auto keys = info[0].As<Napi::Buffer<uint8_t>>();
  uint32_t count = info[1].As<Napi::Number>().Uint32Value();
  CheckLength(env, keys, size_t(count) * info_.key_size, "keys", "deleteBatch");
  if (count == 0) return;
  LIBBPF_OPTS(bpf_map_batch_opts, opts);
  int err = bpf_map_delete_batch(CheckedFd(env), keys.Data(), &count, &opts);
  if (err) ThrowErrno(env, err, "bpf_map_delete_batch", Name());
}

void BpfMap::SetInner(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  auto key = info[0].As<Napi::Buffer<uint8_t>>();
  CheckLength(env, key, info_.key_size, "key", "setInner");
  uint32_t inner_fd = FdOf(env, info[1]);
  // One update replaces the inner map whole: readers see the old table or the new one, never a mix.
  int err = bpf_map_update_elem(CheckedFd(env), key.Data(), &inner_fd, BPF_ANY);
  if (err) ThrowErrno(env, err, "bpf_map_update_elem", Name());
}

Napi::Value BpfMap::InnerId(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  auto key = info[0].As<Napi::Buffer<uint8_t>>();
  CheckLength(env, key, info_.key_size, "key", "innerId");
  uint32_t id = 0;  // a map of maps answers user space with the inner map's id
  int err = bpf_map_lookup_elem(CheckedFd(env), key.Data(), &id);
  if (err == -ENOENT) return env.Null();
  if (err) ThrowErrno(env, err, "bpf_map_lookup_elem", Name());
  return Napi::Number::New(env, id);
}

void BpfMap::Close(const Napi::CallbackInfo &) {
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
}

}  // namespace kbp
