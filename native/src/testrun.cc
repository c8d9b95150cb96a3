// BPF_PROG_TEST_RUN in a worker thread: a packet in, the verdict, the packet out and the kernel's timing.
#include <bpf/bpf.h>

#include <string>
#include <vector>

#include "api.h"
#include "errors.h"

namespace kbp {

// Room for a program that grows the packet (e.g. a UDP datagram answered with ICMP).
constexpr size_t kOutputSlack = 512;

class TestRunWorker : public Napi::AsyncWorker {
 public:
  TestRunWorker(Napi::Env env, int fd, std::string name, std::vector<uint8_t> packet, uint32_t repeat)
      : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)), fd_(fd), name_(std::move(name)),
        in_(std::move(packet)), out_(in_.size() + kOutputSlack), repeat_(repeat) {}

  Napi::Promise Promise() { return deferred_.Promise(); }

  void Execute() override {
    LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = in_.data(), .data_out = out_.data(),
                .data_size_in = uint32_t(in_.size()), .data_size_out = uint32_t(out_.size()), .repeat = int(repeat_));
    err_ = bpf_prog_test_run_opts(fd_, &opts);
    retval_ = opts.retval;
    duration_ = opts.duration;
    out_.resize(opts.data_size_out < out_.size() ? opts.data_size_out : out_.size());
  }

  void OnOK() override {
    Napi::Env env = Env();
    if (err_) {
      deferred_.Reject(ToError(env, Failure{err_, "bpf_prog_test_run_opts", "program \"" + name_ + "\"", ""}).Value());
      return;
    }
    Napi::Object result = Napi::Object::New(env);
    result.Set("retval", retval_);
    result.Set("data", Napi::Buffer<uint8_t>::Copy(env, out_.data(), out_.size()));
    result.Set("durationNs", duration_);
    deferred_.Resolve(result);
  }

 private:
  Napi::Promise::Deferred deferred_;
  int fd_;
  std::string name_;
  std::vector<uint8_t> in_, out_;
  uint32_t repeat_;
  int err_ = 0;
  uint32_t retval_ = 0, duration_ = 0;
};

Napi::Value TestRun(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  Napi::Object prog = info[0].As<Napi::Object>();
  auto packet = info[1].As<Napi::Buffer<uint8_t>>();
  uint32_t repeat = info[2].IsNumber() ? info[2].As<Napi::Number>().Uint32Value() : 1;
  auto *worker = new TestRunWorker(env, prog.Get("fd").As<Napi::Number>().Int32Value(),
                                   prog.Get("name").ToString(), std::vector<uint8_t>(packet.Data(), packet.Data() + packet.Length()),
                                   repeat);
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

}  // namespace kbp
