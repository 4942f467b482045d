/** Stylesheets imported for their effect (Vite injects them). */
declare module '*.css';
