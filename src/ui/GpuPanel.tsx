// WebGPU status: the adapter, the limits that bound model size, the optional
// features the kernels use, and the kernel self-test.

import type { GpuLimits } from '../gpu/context.ts';
import { getAppStore, useAppState } from '../state/app-store.ts';
import { formatBytes, formatDiff } from './format.ts';

const SHOWN_LIMITS: readonly { name: keyof GpuLimits; why: string }[] = [
  { name: 'maxStorageBufferBindingSize', why: 'largest tensor one kernel binding can see' },
  { name: 'maxBufferSize', why: 'largest single GPU buffer' },
  { name: 'maxComputeWorkgroupStorageSize', why: 'workgroup memory for tiled kernels' },
];

/** Self-test passes when the GPU and the float64-accumulated CPU reference agree this closely. */
export const SELF_TEST_TOLERANCE = 1e-4;

export function GpuPanel() {
  const gpu = useAppState((state) => state.gpu);
  const { info, selfTest } = gpu;

  return (
    <section className="panel" aria-labelledby="gpu-title">
      <h2 id="gpu-title">WebGPU</h2>
      {info === null && <p className="muted">{gpu.checking ? 'Requesting a WebGPU adapter…' : 'Not checked yet.'}</p>}
      {info && !info.available && (
        <div className="error" role="alert" data-testid="gpu-missing">
          <strong>WebGPU is not available.</strong>
          <p>{info.reason}</p>
        </div>
      )}
      {info?.available && (
        <>
          <p data-testid="gpu-adapter">
            <span className="badge ok">ready</span> {info.adapter}
          </p>
          <table className="facts">
            <tbody>
              {SHOWN_LIMITS.map(({ name, why }) => (
                <tr key={name}>
                  <th scope="row" title={why}>{name}</th>
                  <td>{formatBytes(info.limits[name])}</td>
                </tr>
              ))}
              <tr>
                <th scope="row">subgroups</th>
                <td>{info.features.subgroups ? 'yes' : 'no'}</td>
              </tr>
              <tr>
                <th scope="row">shader-f16</th>
                <td>{info.features.shaderF16 ? 'yes' : 'no (f32 kernels only)'}</td>
              </tr>
            </tbody>
          </table>
          <div className="row">
            <button type="button" disabled={selfTest.status === 'running'} onClick={() => void getAppStore().getState().runSelfTest()}>
              {selfTest.status === 'running' ? 'Running self-test…' : 'Run kernel self-test'}
            </button>
            {selfTest.result && (
              <span data-testid="selftest-result" className={selfTest.result.maxAbsDiff <= SELF_TEST_TOLERANCE ? 'ok-text' : 'error-text'}>
                max |diff| = {formatDiff(selfTest.result.maxAbsDiff)} over {selfTest.result.cases.length} linear layers (
                {selfTest.result.cases.map((c) => `${c.kernel} ${c.M}×${c.K}→${c.N}`).join(', ')}) in {selfTest.result.milliseconds.toFixed(0)} ms —{' '}
                {selfTest.result.maxAbsDiff <= SELF_TEST_TOLERANCE ? 'pass' : 'FAIL'}
              </span>
            )}
            {selfTest.error && (
              <span className="error-text" role="alert">
                {selfTest.error}
              </span>
            )}
          </div>
        </>
      )}
    </section>
  );
}
