/** The CLI's version (`dicom-tls --version`): a module of its own, so the entry can answer it alone. */
export const VERSION = '0.1.0';
