// The addon's free functions, registered in addon.cc.
#pragma once
#include <napi.h>

namespace kbp {

Napi::Value TcAttach(const Napi::CallbackInfo &info);
Napi::Value TcDetach(const Napi::CallbackInfo &info);
Napi::Value TcQuery(const Napi::CallbackInfo &info);
Napi::Value XdpAttach(const Napi::CallbackInfo &info);
Napi::Value XdpDetach(const Napi::CallbackInfo &info);
Napi::Value CgroupAttach(const Napi::CallbackInfo &info);
Napi::Value CgroupDetach(const Napi::CallbackInfo &info);
Napi::Value TestRun(const Napi::CallbackInfo &info);

}  // namespace kbp
