// Dark theme following the system: PatternFly 6 switches on the `pf-v6-theme-dark` class of <html>.
export function followSystemTheme() {
  const mq = window.matchMedia('(prefers-color-scheme: dark)');
  const apply = () => document.documentElement.classList.toggle('pf-v6-theme-dark', mq.matches);
  apply();
  mq.addEventListener('change', apply);
}
