// The app in a browser without WebGPU (navigator.gpu removed before the page's scripts run):
// the WebGPU panel says so and how to enable it, and the Model panel offers no loading.
import { check, type E2eContext } from './context.ts';

export default async function noWebGpuTest({ page, baseUrl, log, screenshot }: E2eContext): Promise<void> {
  await page.addInitScript(() => {
    delete (Navigator.prototype as { gpu?: unknown }).gpu;
  });
  await page.goto(baseUrl);
  await page.getByRole('heading', { name: 'ChatUIE Web' }).waitFor();
  check(await page.evaluate(() => !('gpu' in navigator)), 'navigator.gpu is still there');
  const missing = page.getByTestId('gpu-missing');
  await missing.waitFor({ timeout: 30_000 });
  const text = await missing.innerText();
  log(`message: ${text.replace(/\s+/g, ' ')}`);
  check(/WebGPU is not available/.test(text), `no "WebGPU is not available" in: ${text}`);
  check(text.includes('chrome://flags/#enable-unsafe-webgpu'), `the message does not say how to enable WebGPU: ${text}`);
  check(/Chrome or Edge/.test(text) && /Firefox/.test(text) && /Safari/.test(text), `the message does not name the supported browsers: ${text}`);
  check((await page.getByRole('alert').filter({ hasText: 'WebGPU is not available' }).count()) === 1, 'the message is not an alert');
  check(await page.getByTestId('model-folder').isDisabled(), 'the folder picker is enabled without WebGPU');
  check(await page.getByRole('button', { name: 'Load the demo model' }).isDisabled(), 'the demo button is enabled without WebGPU');
  check((await page.getByTestId('gpu-adapter').count()) === 0, 'an adapter is shown without WebGPU');
  await screenshot('no-webgpu');
}
