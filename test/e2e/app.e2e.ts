// The built app in headless Chromium on SwiftShader: WebGPU is found in the
// worker, the kernel self-test agrees with the CPU reference.
import { check, type E2eContext } from './context.ts';

export default async function appTest({ page, baseUrl, log, screenshot }: E2eContext): Promise<void> {
  await page.goto(baseUrl);
  await page.getByRole('heading', { name: 'ChatUIE Web' }).waitFor();

  // WebGPU panel: an adapter (or the "not available" message, which fails the test here).
  const adapter = page.getByTestId('gpu-adapter');
  const missing = page.getByTestId('gpu-missing');
  await adapter.or(missing).waitFor({ timeout: 60_000 });
  if (await missing.isVisible()) throw new Error(`the app reports no WebGPU: ${await missing.innerText()}`);
  const adapterText = (await adapter.innerText()).trim();
  log(`adapter: ${adapterText}`);
  check(/swiftshader|google|nvidia|amd|intel|apple/i.test(adapterText), `unexpected adapter text "${adapterText}"`);
  await page.getByText('maxStorageBufferBindingSize').waitFor();

  // Kernel self-test: the same matmul/matvec WGSL as the Node tests, run in the worker.
  await page.getByRole('button', { name: 'Run kernel self-test' }).click();
  const selfTest = page.getByTestId('selftest-result');
  await selfTest.waitFor({ timeout: 120_000 });
  const selfTestText = await selfTest.innerText();
  log(`self-test: ${selfTestText}`);
  const match = /max \|diff\| = (\S+)/.exec(selfTestText);
  check(match !== null, `no "max |diff|" in "${selfTestText}"`);
  const maxDiff = Number(match[1]);
  check(Number.isFinite(maxDiff) && maxDiff < 1e-4, `self-test max |diff| ${match[1]} is not below 1e-4`);
  await screenshot('gpu');
}
