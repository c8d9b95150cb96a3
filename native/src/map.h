// BpfMap: one open map file descriptor, owned (closed by close() or when collected).
#pragma once
#include <bpf/bpf.h>
#include <napi.h>
#include <string>

namespace kbp {

class BpfMap : public Napi::ObjectWrap<BpfMap> {
 public:
  static void Init(Napi::Env env, Napi::Object exports);
  // Wraps fd (ownership passes to the new object).
  static Napi::Object Wrap(Napi::Env env, int fd);
  // The fd of a BpfMap object passed from JS.
  static int FdOf(Napi::Env env, const Napi::Value &value);

  explicit BpfMap(const Napi::CallbackInfo &info);
  ~BpfMap() override;

 private:
  static Napi::FunctionReference constructor_;
  int fd_ = -1;
  bpf_map_info info_{};

  std::string Name() const;
  int CheckedFd(Napi::Env env) const;
  size_t ValueSize() const;  // per-CPU maps hold one value per possible CPU
  void CheckLength(Napi::Env env, const Napi::Buffer<uint8_t> &buf, size_t want, const char *what,
                   const char *method) const;

  Napi::Value GetFd(const Napi::CallbackInfo &info);
  Napi::Value GetInfo(const Napi::CallbackInfo &info);
  Napi::Value Lookup(const Napi::CallbackInfo &info);
  void Update(const Napi::CallbackInfo &info);
  Napi::Value Delete(const Napi::CallbackInfo &info);
  Napi::Value Keys(const Napi::CallbackInfo &info);
  Napi::Value Entries(const Napi::CallbackInfo &info);
  void WriteMapped(const Napi::CallbackInfo &info);
  Napi::Value ReadMapped(const Napi::CallbackInfo &info);
  void PatchMapped(const Napi::CallbackInfo &info);
  size_t MappedSize() const;
  void UpdateBatch(const Napi::CallbackInfo &info);
  void DeleteBatch(const Napi::CallbackInfo &info);
  void SetInner(const Napi::CallbackInfo &info);
  Napi::Value InnerId(const Napi::CallbackInfo &info);
  void Close(const Napi::CallbackInfo &info);
};

}  // namespace kbp
