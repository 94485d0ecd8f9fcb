// AEC3 (webrtc-audio-processing 2.1) behind a C API, with a tunable EchoCanceller3Config and
// the linear filter's output: what livekit's wheel does not expose. For run.py only.
// Same APM setup as voicecli.audio.echo.EchoCanceller: echo canceller + high-pass, 16 kHz mono
// capture, 10 ms frames.
#include <array>
#include <memory>
#include <optional>
#include "api/audio/audio_processing.h"
#include "api/audio/echo_canceller3_config.h"
#include "api/audio/echo_control.h"
#include "modules/audio_processing/aec3/echo_canceller3.h"

using namespace webrtc;

namespace {
struct Factory : EchoControlFactory {
  EchoCanceller3Config cfg;
  std::unique_ptr<EchoControl> Create(int rate, int nr, int nc) override {
    return std::make_unique<EchoCanceller3>(cfg, std::nullopt, rate, nr, nc);
  }
};
struct Shim {
  rtc::scoped_refptr<AudioProcessing> apm;
};
}  // namespace

extern "C" {
// knobs (a value < 0 keeps AEC3's default): suppressor.nearend_tuning [0] mask_lf.enr_transparent
// (1.09), [1] mask_lf.enr_suppress (1.1), [2] mask_hf.enr_transparent (.1), [3] mask_hf.enr_suppress
// (.3); suppressor.dominant_nearend_detection [4] enr_threshold (.25), [5] trigger_threshold (12),
// [6] hold_duration (50), [7] snr_threshold (30); filter length_blocks [8] refined (13),
// [9] coarse (13), [10] refined_initial (12), [11] coarse_initial (12).
void* shim_new(const float* knobs, int nknobs) {
  auto f = std::make_unique<Factory>();
  f->cfg.filter.export_linear_aec_output = true;
  auto& s = f->cfg.suppressor;
  auto k = [&](int i) { return i < nknobs && knobs[i] >= 0; };
  if (k(0)) s.nearend_tuning.mask_lf.enr_transparent = knobs[0];
  if (k(1)) s.nearend_tuning.mask_lf.enr_suppress = knobs[1];
  if (k(2)) s.nearend_tuning.mask_hf.enr_transparent = knobs[2];
  if (k(3)) s.nearend_tuning.mask_hf.enr_suppress = knobs[3];
  if (k(4)) s.dominant_nearend_detection.enr_threshold = knobs[4];
  if (k(5)) s.dominant_nearend_detection.trigger_threshold = (int)knobs[5];
  if (k(6)) s.dominant_nearend_detection.hold_duration = (int)knobs[6];
  if (k(7)) s.dominant_nearend_detection.snr_threshold = knobs[7];
  if (k(8)) f->cfg.filter.refined.length_blocks = (size_t)knobs[8];
  if (k(9)) f->cfg.filter.coarse.length_blocks = (size_t)knobs[9];
  if (k(10)) f->cfg.filter.refined_initial.length_blocks = (size_t)knobs[10];
  if (k(11)) f->cfg.filter.coarse_initial.length_blocks = (size_t)knobs[11];
  AudioProcessing::Config c;
  c.echo_canceller.enabled = true;
  c.echo_canceller.export_linear_aec_output = true;
  c.high_pass_filter.enabled = true;
  auto* sh = new Shim;
  sh->apm = AudioProcessingBuilder().SetConfig(c).SetEchoControlFactory(std::move(f)).Create();
  return sh;
}
void shim_free(void* p) { delete static_cast<Shim*>(p); }
int shim_reverse(void* p, const short* in, int rate) {  // 10 ms at rate
  StreamConfig sc(rate, 1);
  short out[480];
  return static_cast<Shim*>(p)->apm->ProcessReverseStream(in, sc, sc, out);
}
// Returns 1 when `linear` (160 floats, -1..1 scale) was filled, 0 if not, < 0 on error.
int shim_capture(void* p, const short* in, short* out, float* linear) {
  auto* sh = static_cast<Shim*>(p);
  StreamConfig sc(16000, 1);
  int r = sh->apm->ProcessStream(in, sc, sc, out);
  std::array<float, 160> lin[1];
  if (linear && sh->apm->GetLinearAecOutput(rtc::ArrayView<std::array<float, 160>>(lin, 1))) {
    for (int i = 0; i < 160; i++) linear[i] = lin[0][i];
    return r == 0 ? 1 : r;
  }
  return r;
}
void shim_delay(void* p, int ms) { static_cast<Shim*>(p)->apm->set_stream_delay_ms(ms); }
}
