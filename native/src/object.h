// BpfObject: a loaded ELF object (programs and maps), and the asynchronous load() that makes one.
#pragma once
#include <napi.h>

struct bpf_object;

namespace kbp {

class BpfObject : public Napi::ObjectWrap<BpfObject> {
 public:
  static void Init(Napi::Env env, Napi::Object exports);
  static Napi::Object Wrap(Napi::Env env, bpf_object *obj);
  explicit BpfObject(const Napi::CallbackInfo &info);
  ~BpfObject() override;

 private:
  static Napi::FunctionReference constructor_;
  bpf_object *obj_ = nullptr;

  bpf_object *Checked(Napi::Env env) const;
  Napi::Value GetPath(const Napi::CallbackInfo &info);
  Napi::Value Programs(const Napi::CallbackInfo &info);
  Napi::Value Program(const Napi::CallbackInfo &info);
  Napi::Value Map(const Napi::CallbackInfo &info);
  Napi::Value MapNames(const Napi::CallbackInfo &info);
  void Close(const Napi::CallbackInfo &info);
};

// load(path, { pinRoot, rodata }): Promise<BpfObject>
Napi::Value Load(const Napi::CallbackInfo &info);

}  // namespace kbp
