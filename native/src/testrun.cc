// BPF_PROG_TEST_RUN in a worker thread: a packet in, the verdict, the packet out and the kernel's timing.
#include <bpf/bpf.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <net/if.h>
#include <sched.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "api.h"
#include "errors.h"

namespace kbp {

// Room for a program that grows the packet (e.g. a UDP datagram answered with ICMP).
constexpr size_t kOutputSlack = 512;

class TestRunWorker : public Napi::AsyncWorker {
 public:
  TestRunWorker(Napi::Env env, int fd, std::string name, std::vector<uint8_t> packet, uint32_t repeat,
                std::string netns, std::string xdpIfname)
      : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)), fd_(fd), name_(std::move(name)),
        in_(std::move(packet)), out_(in_.size() + kOutputSlack), repeat_(repeat), netns_(std::move(netns)),
        xdpIfname_(std::move(xdpIfname)) {}

  Napi::Promise Promise() { return deferred_.Promise(); }

  // Runs on a pool thread: the namespace is entered for this thread and left again before returning.
  void Execute() override {
    int original = -1;
    if (!netns_.empty()) {
      original = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
      int target = open(netns_.c_str(), O_RDONLY | O_CLOEXEC);
      if (original < 0 || target < 0 || setns(target, CLONE_NEWNET)) {
        Fail(errno, "setns", "network namespace " + netns_);
        if (target >= 0) close(target);
        if (original >= 0) close(original);
        return;
      }
      close(target);
    }
    Run();
    if (original >= 0) {
      setns(original, CLONE_NEWNET);
      close(original);
    }
  }

  void OnOK() override {
    Napi::Env env = Env();
    if (err_) {
      deferred_.Reject(ToError(env, Failure{err_, op_, subject_, ""}).Value());
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
  std::string netns_, xdpIfname_;
  int err_ = 0;
  std::string op_, subject_;
  uint32_t retval_ = 0, duration_ = 0;

  void Fail(int err, std::string op, std::string subject) {
    err_ = err;
    op_ = std::move(op);
    subject_ = std::move(subject);
  }

  void Run() {
    // An XDP program may be given the interface it runs on (its rx queue), as when attached there.
    struct xdp_md ctx = {};
    LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = in_.data(), .data_out = out_.data(),
                .data_size_in = uint32_t(in_.size()), .data_size_out = uint32_t(out_.size()), .repeat = int(repeat_));
    if (!xdpIfname_.empty()) {
      ctx.ingress_ifindex = if_nametoindex(xdpIfname_.c_str());
      if (!ctx.ingress_ifindex) return Fail(errno, "if_nametoindex", "interface \"" + xdpIfname_ + "\"");
      ctx.data_end = uint32_t(in_.size());  // the kernel wants the frame's extent spelled out
      opts.ctx_in = &ctx;
      opts.ctx_size_in = sizeof(ctx);
    }
    if (bpf_prog_test_run_opts(fd_, &opts)) return Fail(errno, "bpf_prog_test_run_opts", "program \"" + name_ + "\"");
    retval_ = opts.retval;
    duration_ = opts.duration;
    out_.resize(opts.data_size_out < out_.size() ? opts.data_size_out : out_.size());
  }
};

Napi::Value TestRun(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  Napi::Object prog = info[0].As<Napi::Object>();
  auto packet = info[1].As<Napi::Buffer<uint8_t>>();
  uint32_t repeat = info[2].IsNumber() ? info[2].As<Napi::Number>().Uint32Value() : 1;
  std::string netns, xdpIfname;
  if (info[3].IsObject()) {
    Napi::Object o = info[3].As<Napi::Object>();
    if (o.Get("netns").IsString()) netns = o.Get("netns").As<Napi::String>();
    if (o.Get("ifname").IsString()) xdpIfname = o.Get("ifname").As<Napi::String>();
  }
  auto *worker = new TestRunWorker(env, prog.Get("fd").As<Napi::Number>().Int32Value(), prog.Get("name").ToString(),
                                   std::vector<uint8_t>(packet.Data(), packet.Data() + packet.Length()), repeat,
                                   std::move(netns), std::move(xdpIfname));
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

}  // namespace kbp
