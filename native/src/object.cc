#include "object.h"

#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdarg>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "errors.h"
#include "map.h"

namespace kbp {

Napi::FunctionReference BpfObject::constructor_;

void BpfObject::Init(Napi::Env env, Napi::Object exports) {
  Napi::Function ctor = DefineClass(env, "BpfObject",
                                    {
                                        InstanceAccessor<&BpfObject::GetPath>("path"),
                                        InstanceMethod<&BpfObject::Programs>("programs"),
                                        InstanceMethod<&BpfObject::Program>("program"),
                                        InstanceMethod<&BpfObject::Map>("map"),
                                        InstanceMethod<&BpfObject::MapNames>("mapNames"),
                                        InstanceMethod<&BpfObject::Close>("close"),
                                    });
  constructor_ = Napi::Persistent(ctor);
  constructor_.SuppressDestruct();
  exports.Set("BpfObject", ctor);
}

Napi::Object BpfObject::Wrap(Napi::Env env, bpf_object *obj) {
  return constructor_.New({Napi::External<bpf_object>::New(env, obj)});
}

BpfObject::BpfObject(const Napi::CallbackInfo &info) : Napi::ObjectWrap<BpfObject>(info) {
  obj_ = info[0].As<Napi::External<bpf_object>>().Data();
}

BpfObject::~BpfObject() {
  if (obj_) bpf_object__close(obj_);
}

bpf_object *BpfObject::Checked(Napi::Env env) const {
  if (!obj_) ThrowErrno(env, EBADF, "BpfObject", "a closed object");
  return obj_;
}

Napi::Value BpfObject::GetPath(const Napi::CallbackInfo &info) {
  return Napi::String::New(info.Env(), obj_ ? bpf_object__name(obj_) : "");
}

static Napi::Object ProgramValue(Napi::Env env, bpf_program *prog) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("name", bpf_program__name(prog));
  o.Set("fd", bpf_program__fd(prog));
  o.Set("section", bpf_program__section_name(prog));
  return o;
}

Napi::Value BpfObject::Programs(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  Napi::Array out = Napi::Array::New(env);
  bpf_program *prog;
  uint32_t i = 0;
  bpf_object__for_each_program(prog, Checked(env)) out.Set(i++, ProgramValue(env, prog));
  return out;
}

Napi::Value BpfObject::Program(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  std::string name = info[0].As<Napi::String>();
  bpf_program *prog = bpf_object__find_program_by_name(Checked(env), name.c_str());
  if (!prog) ThrowErrno(env, ENOENT, "bpf_object__find_program_by_name", "program \"" + name + "\"");
  return ProgramValue(env, prog);
}

Napi::Value BpfObject::Map(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  std::string name = info[0].As<Napi::String>();
  bpf_map *map = bpf_object__find_map_by_name(Checked(env), name.c_str());
  if (!map) ThrowErrno(env, ENOENT, "bpf_object__find_map_by_name", "map \"" + name + "\"");
  int fd = dup(bpf_map__fd(map));  // the handle owns its fd; the object keeps its own
  if (fd < 0) ThrowErrno(env, errno, "dup", "map \"" + name + "\"");
  return BpfMap::Wrap(env, fd);
}

Napi::Value BpfObject::MapNames(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  Napi::Array out = Napi::Array::New(env);
  bpf_map *map;
  uint32_t i = 0;
  bpf_object__for_each_map(map, Checked(env)) out.Set(i++, bpf_map__name(map));
  return out;
}

void BpfObject::Close(const Napi::CallbackInfo &) {
  if (obj_) bpf_object__close(obj_);
  obj_ = nullptr;
}

// libbpf logs through one process-wide callback. During a load its messages are kept (they carry the
// verifier log) so the error can say why the program was refused; elsewhere the errno in the thrown
// error says it all (libbpf would also complain about expected cases, e.g. an existing clsact qdisc).
static thread_local std::string *load_log = nullptr;

static int LibbpfPrint(enum libbpf_print_level level, const char *format, va_list args) {
  if (level == LIBBPF_DEBUG || !load_log) return 0;
  char line[1024];
  int n = vsnprintf(line, sizeof(line), format, args);
  load_log->append(line);
  return n;
}

// Writes `const volatile` globals into .rodata before load, found by name through the object's BTF.
static Failure SetRodata(bpf_object *obj, const std::map<std::string, std::vector<uint8_t>> &values) {
  if (values.empty()) return {};
  bpf_map *rodata = nullptr;
  bpf_map *map;
  bpf_object__for_each_map(map, obj) {
    if (strstr(bpf_map__name(map), ".rodata")) rodata = map;
  }
  btf *types = bpf_object__btf(obj);
  if (!rodata || !types) return {ENOENT, "rodata", "the object", "it has no .rodata section with BTF"};
  size_t size = 0;
  auto *initial = static_cast<const uint8_t *>(bpf_map__initial_value(rodata, &size));
  int sec_id = btf__find_by_name_kind(types, ".rodata", BTF_KIND_DATASEC);
  if (!initial || sec_id < 0) return {ENOENT, "rodata", "the object", "no .rodata datasec"};
  std::vector<uint8_t> data(initial, initial + size);
  const btf_type *sec = btf__type_by_id(types, sec_id);
  size_t found = 0;
  const btf_var_secinfo *var = btf_var_secinfos(sec);
  for (int i = 0; i < btf_vlen(sec); i++, var++) {
    const char *name = btf__name_by_offset(types, btf__type_by_id(types, var->type)->name_off);
    auto it = values.find(name);
    if (it == values.end()) continue;
    if (it->second.size() != var->size || var->offset + var->size > size) {
      return {EINVAL, "rodata", std::string("global \"") + name + "\"",
              "value is " + std::to_string(it->second.size()) + " bytes, the variable " + std::to_string(var->size)};
    }
    memcpy(data.data() + var->offset, it->second.data(), var->size);
    found++;
  }
  if (found != values.size()) return {ENOENT, "rodata", "a global", "not every named global exists in the object"};
  int err = bpf_map__set_initial_value(rodata, data.data(), data.size());
  if (err) return {err, "bpf_map__set_initial_value", "map \"" + std::string(bpf_map__name(rodata)) + "\"", ""};
  return {};
}

class LoadWorker : public Napi::AsyncWorker {
 public:
  LoadWorker(Napi::Env env, std::string path, std::string pin_root, std::map<std::string, std::vector<uint8_t>> rodata)
      : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)), path_(std::move(path)),
        pin_root_(std::move(pin_root)), rodata_(std::move(rodata)) {}

  Napi::Promise Promise() { return deferred_.Promise(); }

  void Execute() override {
    std::string log;
    load_log = &log;
    Run();
    load_log = nullptr;
    if (failure_.err && !log.empty()) {
      failure_.detail += (failure_.detail.empty() ? "" : "\n") + log.substr(log.size() > 8192 ? log.size() - 8192 : 0);
    }
  }

  void OnOK() override {
    if (failure_.err) {
      deferred_.Reject(ToError(Env(), failure_).Value());
      return;
    }
    deferred_.Resolve(BpfObject::Wrap(Env(), obj_));
    obj_ = nullptr;
  }

  ~LoadWorker() override {
    if (obj_) bpf_object__close(obj_);
  }

 private:
  void Run() {
    if (mkdir(pin_root_.c_str(), 0700) && errno != EEXIST) {
      failure_ = {errno, "mkdir", "pin directory " + pin_root_, ""};
      return;
    }
    LIBBPF_OPTS(bpf_object_open_opts, opts, .pin_root_path = pin_root_.c_str());
    obj_ = bpf_object__open_file(path_.c_str(), &opts);
    if (!obj_) {
      failure_ = {errno, "bpf_object__open_file", path_, ""};
      return;
    }
    failure_ = SetRodata(obj_, rodata_);
    if (failure_.err) return;
    int err = bpf_object__load(obj_);
    if (err) failure_ = {err, "bpf_object__load", path_, ""};
  }

  Napi::Promise::Deferred deferred_;
  std::string path_, pin_root_;
  std::map<std::string, std::vector<uint8_t>> rodata_;
  bpf_object *obj_ = nullptr;
  Failure failure_;
};

Napi::Value Load(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  std::string path = info[0].As<Napi::String>();
  Napi::Object options = info[1].As<Napi::Object>();
  std::string pin_root = options.Get("pinRoot").As<Napi::String>();
  std::map<std::string, std::vector<uint8_t>> rodata;
  if (options.Get("rodata").IsObject()) {
    Napi::Object given = options.Get("rodata").As<Napi::Object>();
    Napi::Array names = given.GetPropertyNames();
    for (uint32_t i = 0; i < names.Length(); i++) {
      std::string name = names.Get(i).As<Napi::String>();
      auto buf = given.Get(name).As<Napi::Buffer<uint8_t>>();
      rodata[name] = std::vector<uint8_t>(buf.Data(), buf.Data() + buf.Length());
    }
  }
  auto *worker = new LoadWorker(env, path, pin_root, std::move(rodata));
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

struct PrintSetup {
  PrintSetup() { libbpf_set_print(LibbpfPrint); }
} print_setup;

}  // namespace kbp
