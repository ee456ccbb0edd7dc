/**
 * What a per-command bundle (scripts/bundle-cli.mjs, dist/cli/solo/) holds in place of the other
 * commands' modules: the command table loads a command only when it runs, and a solo bundle only
 * ever runs its own, so reaching this is a build defect.
 */
throw new Error('dicom-tls: this command is not part of this bundle');
export {};
